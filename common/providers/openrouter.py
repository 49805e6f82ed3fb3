"""OpenRouter: hundreds of models behind one OpenAI-format API.

Its `/models` entries carry prices as strings in USD per token, the context length, the input
modalities, the parameters the model takes (`supported_parameters`: `tools`, `response_format`,
`structured_outputs`) and the Hugging Face repo of its weights (`hugging_face_id`); chat
requests carry `HTTP-Referer` and `X-Title` so OpenRouter attributes traffic to the app, and ask
for usage accounting so the last chunk reports `cost`.
"""

from __future__ import annotations

from typing import Any

from common.providers.base import ChatRequest, ModelInfo
from common.providers.openai_format import (
    OpenAIFormatClient,
    features_from,
    guess_capabilities,
    modalities_from,
    price_value,
)


def _price(pricing: dict, key: str) -> float:
    """The price as listed; a bad one (negative, "-1" for variable-priced routers, text) is
    passed on as it is, or as NaN, so the catalog refuses the model rather than sell it free."""
    value = pricing.get(key)
    return 0.0 if value is None or value == "" else price_value(value)


class OpenRouterProvider(OpenAIFormatClient):
    name = "openrouter"

    def __init__(self, *args, app_url: str = "", app_title: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.app_url = app_url
        self.app_title = app_title

    def headers(self) -> dict[str, str]:
        headers = super().headers()
        if self.app_url:
            headers["HTTP-Referer"] = self.app_url
        if self.app_title:
            headers["X-Title"] = self.app_title
        return headers

    def request_body(self, request: ChatRequest) -> dict[str, Any]:
        body = super().request_body(request)
        body.pop("stream_options", None)
        body.setdefault("usage", {"include": True})
        return body

    def model_info(self, entry: dict) -> ModelInfo:
        pricing = entry.get("pricing") or {}
        architecture = entry.get("architecture") or {}
        top = entry.get("top_provider") or {}
        model_id = str(entry["id"])
        return ModelInfo(
            model_id=model_id,
            name=str(entry.get("name") or model_id),
            provider=self.name,
            description=str(entry.get("description") or ""),
            prompt_price=_price(pricing, "prompt"),
            completion_price=_price(pricing, "completion"),
            context_window=int(entry.get("context_length") or top.get("context_length") or 4096),
            capabilities=guess_capabilities(model_id, architecture.get("input_modalities")),
            input_modalities=modalities_from(architecture.get("input_modalities")),
            features=features_from(entry.get("supported_parameters")),
            hf_id=str(entry.get("hugging_face_id") or ""),
        )
