"""Any OpenAI-compatible server you run yourself: Ollama, vLLM, llama.cpp.

Configured by `OPENAI_COMPAT_BASE_URL` (e.g. `http://127.0.0.1:11434/v1`) and an optional
`OPENAI_COMPAT_API_KEY`. With no base URL the provider is disabled: it lists no models and
refuses to stream. Its models are listed at the configured prices (`OPENAI_COMPAT_PROMPT_PRICE`,
`OPENAI_COMPAT_COMPLETION_PRICE`, USD per million tokens); the default, zero, makes them free.
Its `/models` list does not say what the models take, so `OPENAI_COMPAT_CAPABILITIES` does
(tools, json_object, json_schema, images; none by default: text only).
"""

from __future__ import annotations

from dataclasses import replace

from common.providers.base import ModelInfo
from common.providers.openai_format import OpenAIFormatClient


class OpenAICompatProvider(OpenAIFormatClient):
    name = "openai"

    def __init__(
        self,
        *args,
        prompt_price: float = 0.0,
        completion_price: float = 0.0,
        capabilities: tuple[str, ...] = (),
        **kw,
    ):
        super().__init__(*args, **kw)
        self.prices = (prompt_price / 1_000_000, completion_price / 1_000_000)
        self.features = tuple(c for c in capabilities if c != "images")
        self.modalities = ("text", "image") if "images" in capabilities else ("text",)

    def model_info(self, entry: dict) -> ModelInfo:
        info = super().model_info(entry)
        return replace(
            info,
            prompt_price=self.prices[0],
            completion_price=self.prices[1],
            features=self.features,
            input_modalities=self.modalities,
        )
