"""The provider interface: list models, stream a chat completion as typed events.

Every client (OpenRouter, Hugging Face, any OpenAI-compatible server) implements `Provider`.
Streams yield `TextDelta`, then `Usage` (when the provider reports it), then `Finish`; failures
raise a `ProviderFailure` subclass whose `reason` the chat flow turns into a user-facing error.
Closing the generator closes the HTTP response, which stops the generation upstream.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from common.errors import ProviderError, ProviderUnavailable


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost: float | None = None  # in the provider's currency (USD for OpenRouter), if reported


@dataclass(frozen=True)
class Finish:
    reason: str  # "stop", "length", "content_filter", ...


Event = TextDelta | Usage | Finish


@dataclass(frozen=True)
class ChatRequest:
    model: str  # the provider's own model id
    messages: list[dict[str, str]]  # [{"role": "user"|"assistant"|"system", "content": "..."}]
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelInfo:
    """A model as a provider lists it; the catalog turns it into an `AIModel` document."""

    model_id: str
    name: str
    provider: str
    description: str = ""
    prompt_price: float = 0.0  # per token, USD
    completion_price: float = 0.0  # per token, USD
    context_window: int = 4096
    capabilities: tuple[str, ...] = ("text",)
    is_available: bool = True


class Provider(Protocol):
    name: str

    def list_models(self) -> list[ModelInfo]: ...

    def stream_chat(self, request: ChatRequest) -> Iterator[Event]: ...


# -- failures ---------------------------------------------------------------------------------
# `code`/`status` follow DESIGN.md's table; `reason` says which failure it was, for the user's
# message, for retries (`retryable`) and for moderation records.


class _WithReason:
    """Puts the failure's `reason` into its details, so the error frame and record carry it."""

    reason: str

    def __init__(self, message: str | None = None, details: dict | None = None):
        super().__init__(message, {"reason": self.reason, **(details or {})})


class ProviderFailure(_WithReason, ProviderError):
    reason = "provider_error"
    retryable = False


class ProviderAuthError(ProviderFailure):
    reason = "auth"
    message = "This model's provider is misconfigured on our side. Try another model."


class ProviderOutOfCredits(ProviderFailure):
    reason = "out_of_credits"
    message = "The provider has run out of credits for this model. Try another model."


class ProviderModeration(ProviderFailure):
    reason = "moderation"
    message = "The provider refused this message under its content policy."


class ProviderStreamError(ProviderFailure):
    reason = "stream_error"
    message = "The provider failed in the middle of the answer. Try again or pick another model."


class ProviderBadRequest(ProviderFailure):
    reason = "bad_request"
    message = "The provider rejected the request. Try a shorter conversation or other options."


class ProviderTimeout(ProviderFailure):
    reason = "timeout"
    retryable = True
    message = "The provider took too long to answer. Try again or pick another model."


class ProviderUnavailableFailure(_WithReason, ProviderUnavailable):
    """Failures worth retrying later: rate limits, overloaded or loading models, 5xx."""

    reason = "model_unavailable"
    retryable = True


class ProviderRateLimited(ProviderUnavailableFailure):
    reason = "rate_limited"
    message = "The provider is rate limiting this model. Try again in a moment."

    def __init__(
        self,
        retry_after: float | None = None,
        message: str | None = None,
        details: dict | None = None,
    ):
        extra = {"retryAfter": retry_after} if retry_after else {}
        super().__init__(message, {**extra, **(details or {})} or None)
        self.retry_after = retry_after


class ModelUnavailable(ProviderUnavailableFailure):
    reason = "model_unavailable"
    message = "This model is unavailable right now (it may be loading). Try again shortly."


ALL_FAILURES = (ProviderFailure, ProviderUnavailableFailure)
