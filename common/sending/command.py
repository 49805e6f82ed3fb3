"""What a send is asked to do (`SendCommand`) and what it did (`SendResult`).

The web tier's request schemas build a `SendCommand` (`SendBody.command()` and friends); the send
use case (`common.sending.send`) and its rules (`validation`, `planning`) read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from common.conversations.models import ChatMessage, ChatSession
from common.users.models import User


@dataclass(frozen=True)
class SendOptions:
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    stop: list[str] | None = None


@dataclass(frozen=True)
class Needs:
    """What a request needs of a model beyond text (the OpenAI-compatible API)."""

    tools: bool = False
    response_format: str | None = None  # "json_object" | "json_schema"
    image_param: str | None = None  # the first image part, e.g. "messages.2.content.1"

    def problem(self, capabilities: dict[str, bool]) -> tuple[str, str] | None:
        """(param, what) the model lacks, by `common.catalog.service.capabilities_of`."""
        if self.tools and not capabilities["tools"]:
            return "tools", "tools"
        if self.response_format == "json_schema" and not capabilities["jsonSchema"]:
            return "response_format", "response_format json_schema"
        if self.response_format == "json_object" and not capabilities["jsonObject"]:
            return "response_format", "response_format json_object"
        if self.image_param and not capabilities["images"]:
            return self.image_param, "image input"
        return None


@dataclass
class SendCommand:
    user: User
    message: str
    models: list[str]
    session_id: str | None = None
    options: SendOptions = field(default_factory=SendOptions)
    # The client's key for this send (`Idempotency-Key`, a websocket `requestId`): a repeat
    # within the window answers with this send (see `common.sending.idempotency`).
    idempotency_key: str | None = None
    # The OpenAI-compatible API: the whole conversation comes with the request (it is the
    # prompt, not the session's history), and the key it came through is checked and recorded.
    prompt: list[dict] | None = None
    api_key: Any = None  # common.apikeys.models.ApiKey
    # OpenAI parameters passed on to the provider (`common.providers.base.PASSED_PARAMS`), what
    # they need of the model, and the fallback models (`common.sending.fallbacks`): those the
    # request names (`models`), and with `same_model_fallback` the same model through other
    # providers.
    params: dict[str, Any] | None = None
    needs: Needs = field(default_factory=Needs)
    fallbacks: list[str] = field(default_factory=list)
    same_model_fallback: bool = False
    # Regenerate: answer this stored user message of `session_id` again (no new user message).
    parent_id: str | None = None
    # Edit: the new user message is a sibling of this user message of `session_id` (same
    # parent): a new branch from that point (common/conversations/tree.py).
    edit_of: str | None = None
    # The message the new user message follows (the leaf a client shows); default the
    # session's `currentLeafId`.
    after_id: str | None = None
    # The HTTP request it came with (`X-Request-ID`), kept on an API request's usage record.
    request_id: str | None = None

    # Images sent with the message (the web client's attachments): https: or data: URLs.
    images: list[str] = field(default_factory=list)

    @property
    def is_api(self) -> bool:
        """An OpenAI-compatible API request: recorded as API usage, never as a conversation."""
        return self.api_key is not None


@dataclass
class SendResult:
    session: ChatSession | None  # None for an API request (no conversation)
    user_message: ChatMessage | None  # None for an API request (the prompt is on the record)
    messages: list[ChatMessage]
    user_after: dict | None = None  # the user document after the holds (for the snapshot)
    replayed: bool = False  # the answer of an earlier send with the same idempotency key
    regenerated: bool = False  # `user_message` is the stored parent, not a new one
    leaf_id: str | None = None  # the session's current leaf after this send
