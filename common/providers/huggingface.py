"""Hugging Face's OpenAI-compatible router (`HUGGINGFACE_BASE_URL`).

Its `/models` entries list the inference providers serving each model, with prices per million
tokens, context lengths and whether they take tools (`supports_tools`) and JSON-schema output
(`supports_structured_output`); we take the first live one. `architecture.input_modalities`
says whether the model takes images. Without `HUGGINGFACE_API_KEY` the
provider is disabled (the router serves nothing without a token). A model that is still loading answers
503 with `{"error": "... is currently loading", "estimated_time": 20.0}`, which becomes
`ModelUnavailable` with that estimate as `retryAfter`.
"""

from __future__ import annotations

import requests

from common.providers.base import ModelInfo, ModelUnavailable
from common.providers.openai_format import (
    Failure,
    OpenAIFormatClient,
    _error_payload,
    guess_capabilities,
    modalities_from,
    price_value,
)


def _live_provider(entry: dict) -> dict:
    providers = [p for p in entry.get("providers") or [] if isinstance(p, dict)]
    live = [p for p in providers if p.get("status", "live") == "live"]
    return (live or providers or [{}])[0]


def _features(serving: dict) -> tuple[str, ...]:
    """The router lists per serving provider `supports_tools` and `supports_structured_output`
    (JSON schema, and so JSON mode)."""
    features = ["tools"] if serving.get("supports_tools") else []
    if serving.get("supports_structured_output"):
        features += ["json_object", "json_schema"]
    return tuple(features)


class HuggingFaceProvider(OpenAIFormatClient):
    name = "huggingface"

    @property
    def enabled(self) -> bool:
        """The router needs a token even to be useful, so no key means not offered at all."""
        return bool(self.base_url and self.api_key)

    def model_info(self, entry: dict) -> ModelInfo:
        model_id = str(entry["id"])
        serving = _live_provider(entry)
        pricing = serving.get("pricing") or {}
        context = serving.get("context_length") or entry.get("context_length") or 4096
        return ModelInfo(
            model_id=model_id,
            name=str(entry.get("name") or model_id),
            provider=self.name,
            description=str(entry.get("description") or f"{model_id} on Hugging Face"),
            prompt_price=price_value(pricing.get("input") or 0) / 1_000_000,
            completion_price=price_value(pricing.get("output") or 0) / 1_000_000,
            context_window=int(context),
            capabilities=guess_capabilities(model_id),
            input_modalities=modalities_from(
                (entry.get("architecture") or {}).get("input_modalities")
            ),
            features=_features(serving),
            hf_id=model_id,
        )

    def failure_for(self, response: requests.Response) -> Failure:
        message, payload = _error_payload(response)
        if response.status_code == 503 or "loading" in message.lower():
            estimate = payload.get("estimated_time")
            details = {"status": response.status_code, "providerMessage": message[:500]}
            if estimate:
                details["retryAfter"] = float(estimate)
            return ModelUnavailable(details=details)
        return super().failure_for(response)
