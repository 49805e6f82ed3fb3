"""The provider interface: list models, stream a chat completion as typed events.

Every client (OpenRouter, Hugging Face, any OpenAI-compatible server) implements `Provider`.
Streams yield `TextDelta` and `ToolCallDelta` (fragments of the tool calls the model makes, in
OpenAI's streaming shape), then `Usage` (when the provider reports it), then `Finish`; failures
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
class ToolCallDelta:
    """One fragment of a tool call, as OpenAI streams it: the call at `index` gets its `id` and
    function `name` in its first fragment, and its `arguments` (JSON text) in pieces."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""

    def as_dict(self) -> dict[str, Any]:
        """OpenAI's `delta.tool_calls[]` item (only the fields this fragment carries)."""
        out: dict[str, Any] = {"index": self.index}
        if self.id:
            out["id"] = self.id
            out["type"] = "function"
        function: dict[str, str] = {"arguments": self.arguments}
        if self.name:
            function["name"] = self.name
        out["function"] = function
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ToolCallDelta:
        function = d.get("function") or {}
        return cls(
            int(d.get("index") or 0),
            d.get("id"),
            function.get("name"),
            str(function.get("arguments") or ""),
        )


def assemble_tool_calls(fragments: list[ToolCallDelta]) -> list[dict[str, Any]]:
    """The complete calls, in OpenAI's message shape `[{id, type, function: {name, arguments}}]`,
    from their fragments in order (a fragment continues the call with its `index`)."""
    calls: dict[int, dict[str, Any]] = {}
    for f in fragments:
        call = calls.setdefault(
            f.index, {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
        )
        if f.id:
            call["id"] = f.id
        if f.name:
            call["function"]["name"] += f.name
        call["function"]["arguments"] += f.arguments
    return [calls[i] for i in sorted(calls)]


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost: float | None = None  # in the provider's currency (USD for OpenRouter), if reported


@dataclass(frozen=True)
class Finish:
    reason: str  # "stop", "length", "content_filter", ...


Event = TextDelta | ToolCallDelta | Usage | Finish

# OpenAI parameters passed on as they are, when the model's catalog entry says it takes them.
PASSED_PARAMS = ("tools", "tool_choice", "parallel_tool_calls", "response_format")


@dataclass(frozen=True)
class ChatRequest:
    model: str  # the provider's own model id
    # OpenAI's messages: {"role", "content"} where content is text or a list of parts
    # (text, image_url); assistant turns may carry `tool_calls`, tool turns `tool_call_id`.
    messages: list[dict[str, Any]]
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # stop, PASSED_PARAMS


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
    input_modalities: tuple[str, ...] = ("text",)
    # What the provider says the model takes: "tools", "json_object", "json_schema".
    features: tuple[str, ...] = ()
    # The Hugging Face repo id of the weights (OpenRouter's `hugging_face_id`, Hugging Face's own
    # id): the same model served by several providers shares it (fallback across providers).
    hf_id: str = ""


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
