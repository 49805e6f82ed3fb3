"""Which client serves a provider name, built from the current settings.

Clients are cached per process and per settings object, so a test (or the app factory) that
installs new settings gets fresh clients, while normal traffic reuses one client (and one pooled
HTTP session) per process.
"""

from __future__ import annotations

import os
import threading

from common.errors import ValidationError
from common.providers.base import Provider
from common.providers.huggingface import HuggingFaceProvider
from common.providers.openai_compat import OpenAICompatProvider
from common.providers.openai_format import OpenAIFormatClient
from common.providers.openrouter import OpenRouterProvider
from config import Settings, get_settings

PROVIDER_NAMES = ("openrouter", "huggingface", "openai")

_cache: dict[str, tuple[int, Settings, OpenAIFormatClient]] = {}
_lock = threading.Lock()


def _build(name: str, settings: Settings) -> OpenAIFormatClient:
    timeouts = {
        "connect_timeout": settings.provider_connect_timeout,
        "read_timeout": settings.provider_read_timeout,
    }
    if name == "openrouter":
        return OpenRouterProvider(
            settings.openrouter_base_url,
            settings.openrouter_api_key,
            app_url=settings.app_url,
            app_title=settings.app_title,
            **timeouts,
        )
    if name == "huggingface":
        return HuggingFaceProvider(
            settings.huggingface_base_url, settings.huggingface_api_key, **timeouts
        )
    if name == "openai":
        return OpenAICompatProvider(
            settings.openai_compat_base_url,
            settings.openai_compat_api_key,
            prompt_price=settings.openai_compat_prompt_price,
            completion_price=settings.openai_compat_completion_price,
            capabilities=settings.openai_compat_capabilities,
            **timeouts,
        )
    raise ValidationError(f"Unknown provider {name!r}.", {"providers": list(PROVIDER_NAMES)})


def provider_for(name: str) -> Provider:
    """The client for `name` ("openrouter", "huggingface", "openai") under current settings."""
    settings = get_settings()
    cached = _cache.get(name)
    if cached and cached[0] == os.getpid() and cached[1] is settings:
        return cached[2]
    with _lock:
        client = _build(name, settings)
        _cache[name] = (os.getpid(), settings, client)
    return client


def enabled_providers() -> list[str]:
    """Providers that can be asked for models (the generic one needs a base URL, HF a key)."""
    return [name for name in PROVIDER_NAMES if getattr(provider_for(name), "enabled", True)]
