"""Request and response shapes of the OpenAI-compatible routes (`/v1`), as OpenAI defines them.

Requests are validated with these models (unknown fields ignored, as OpenAI does); the response
models describe what the routes answer, for the OpenAPI document and the tests.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from common.sending.command import SendCommand, SendOptions
from web.validation import Body

ROLES = ("system", "developer", "user", "assistant")


class TextPart(Body):
    type: Literal["text"]
    text: str = Field(max_length=1_000_000)


class ChatMessageIn(Body):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None
    name: str | None = Field(default=None, max_length=256)

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class StreamOptions(Body):
    include_usage: bool | None = None


class ChatCompletionBody(Body):
    model: str = Field(min_length=1, max_length=200)
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=1000)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    stop: str | Annotated[list[str], Field(max_length=4)] | None = None
    n: int | None = Field(default=None, ge=1, le=1, description="Only 1 is supported")
    user: str | None = Field(default=None, max_length=256)

    @model_validator(mode="after")
    def _a_user_turn(self):
        if not any(m.role == "user" and m.text().strip() for m in self.messages):
            raise ValueError("messages must contain a user message with text")
        return self

    @property
    def wants_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)

    def limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def command(self, user, key) -> SendCommand:
        prompt = [
            {"role": "system" if m.role == "developer" else m.role, "content": m.text()}
            for m in self.messages
        ]
        last_user = next(t["content"] for t in reversed(prompt) if t["role"] == "user")
        stop = [self.stop] if isinstance(self.stop, str) else self.stop
        options = SendOptions(
            temperature=self.temperature,
            max_tokens=self.limit(),
            top_p=self.top_p,
            stop=[s for s in stop or [] if s] or None,
        )
        return SendCommand(
            user=user,
            message=last_user,
            models=[self.model],
            options=options,
            prompt=prompt,
            api_key=key,
        )


# -- answers --------------------------------------------------------------------------------------


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelListOut(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]


class UsageOut(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost: int = Field(description="What the answer was charged, in wallet tokens")


class AssistantMessageOut(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    refusal: None = None


class ChoiceOut(BaseModel):
    index: int
    message: AssistantMessageOut
    finish_reason: Literal["stop", "length"]
    logprobs: None = None


class ChatCompletionOut(BaseModel):
    """The non-streaming answer. A streaming one is SSE `chat.completion.chunk` events."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChoiceOut]
    usage: UsageOut
    system_fingerprint: str | None = None
    charged: int = Field(description="AI Pasta: wallet tokens charged for this answer")


def usage_out(final: dict[str, Any]) -> dict[str, int]:
    """OpenAI's `usage` from an answer's final frame, with what it was charged (`cost`, in
    wallet tokens, where OpenRouter puts its own cost)."""
    usage = final.get("usage") or {}
    return {
        "prompt_tokens": int(usage.get("promptTokens", 0)),
        "completion_tokens": int(usage.get("completionTokens", 0)),
        "total_tokens": int(usage.get("totalTokens", 0)),
        "cost": int(final.get("charged") or 0),
    }
