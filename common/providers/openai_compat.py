"""Any OpenAI-compatible server you run yourself: Ollama, vLLM, llama.cpp.

Configured by `OPENAI_COMPAT_BASE_URL` (e.g. `http://127.0.0.1:11434/v1`) and an optional
`OPENAI_COMPAT_API_KEY`. With no base URL the provider is disabled: it lists no models and
refuses to stream. Local models cost nothing, so they are listed at price zero.
"""

from __future__ import annotations

from common.providers.openai_format import OpenAIFormatClient


class OpenAICompatProvider(OpenAIFormatClient):
    name = "openai"
