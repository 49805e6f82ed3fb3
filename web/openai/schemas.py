"""Request and response shapes of the OpenAI-compatible routes (`/v1`), as OpenAI defines them.

Requests are validated with these models (unknown fields ignored, as OpenAI does); the response
models describe what the routes answer, for the OpenAPI document and the tests.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from common.sending.command import SendCommand, SendOptions
from web.validation import Body, setting_bound

ROLES = ("system", "developer", "user", "assistant")
# The content part types this server takes; any other is a 400 naming the part
# (`messages.0.content.1`). A new type is a model here and a tag in `ContentPart`.
PART_TYPES = ("text",)
TEXT = {"type": "string", "pattern": r"\S"}  # something besides spaces (strings are stripped)


def _part_type(value: Any) -> Any:
    """Check the part's `type` before its fields, so an unsupported one is one clear error."""
    kind = value.get("type") if isinstance(value, dict) else None
    if isinstance(kind, str) and kind not in PART_TYPES:
        raise ValueError(
            f"content parts of type {kind!r} are not supported; use "
            + " or ".join(repr(t) for t in PART_TYPES)
        )
    return value


class TextPart(Body):
    type: Literal["text"]
    text: str = Field(max_length=1_000_000)

    _supported = model_validator(mode="before")(_part_type)


ContentPart = TextPart


def _content_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "text"
    return "parts" if isinstance(value, list) else None


# A string, or a list of content parts. The discriminator picks the one that applies, so an
# error names the field (`messages.0.content`), not each alternative pydantic tried.
Content = Annotated[
    Annotated[str, Tag("text")] | Annotated[list[ContentPart], Tag("parts")],
    Discriminator(
        _content_kind,
        custom_error_type="content_type",
        custom_error_message="must be a string or a list of content parts",
    ),
]


class ChatMessageIn(Body):
    role: Literal["system", "developer", "user", "assistant"]
    content: Content | None = None
    name: str | None = Field(default=None, max_length=256)

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class StreamOptions(Body):
    include_usage: bool | None = None


# At least one `user` message with text (JSON Schema's `contains`).
A_USER_TURN = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {
        "role": {"const": "user"},
        "content": {
            "anyOf": [
                TEXT,
                {
                    "type": "array",
                    "contains": {
                        "type": "object",
                        "required": ["type", "text"],
                        "properties": {"type": {"const": "text"}, "text": TEXT},
                    },
                },
            ]
        },
    },
}


class Sampling(Body):
    """What every `/v1` generation request takes besides its input (OpenAI's names)."""

    model: str = Field(min_length=1, max_length=200)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = setting_bound("max_tokens_per_request", default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    stop: str | Annotated[list[str], Field(max_length=4)] | None = None
    n: int | None = Field(default=None, ge=1, le=1, description="Only 1 is supported")
    user: str | None = Field(default=None, max_length=256)

    @property
    def wants_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)

    def limit(self) -> int | None:
        """The completion's max tokens as asked (None: the server's default)."""
        return self.max_tokens

    def limit_param(self) -> str:
        return "max_tokens"

    def options(self) -> SendOptions:
        stop = [self.stop] if isinstance(self.stop, str) else self.stop
        return SendOptions(
            temperature=self.temperature,
            max_tokens=self.limit(),
            top_p=self.top_p,
            stop=[s for s in stop or [] if s] or None,
        )


EXAMPLE_MODEL = "deepseek/deepseek-r1:free"


class ChatCompletionBody(Sampling):
    """OpenAI's Chat Completions request. New fields (tools, response_format, ...) are added
    here with their own `param` names; `command()` turns the request into the send path's
    `SendCommand`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model": EXAMPLE_MODEL,
                    "messages": [
                        {"role": "system", "content": "Be brief."},
                        {"role": "user", "content": "Hello!"},
                    ],
                    "max_tokens": 50,
                },
                {
                    "model": EXAMPLE_MODEL,
                    "messages": [{"role": "user", "content": "Tell me a story"}],
                    "stream": True,
                    "stream_options": {"include_usage": True},
                },
            ]
        }
    )

    messages: list[ChatMessageIn] = Field(
        min_length=1,
        max_length=1000,
        json_schema_extra={"contains": A_USER_TURN},
        description="At least one `user` message with text",
    )
    max_completion_tokens: int | None = setting_bound("max_tokens_per_request", default=None, ge=1)

    @field_validator("messages")
    @classmethod
    def _a_user_turn(cls, messages: list[ChatMessageIn]) -> list[ChatMessageIn]:
        if not any(m.role == "user" and m.text().strip() for m in messages):
            raise ValueError("must contain a user message with text")
        return messages

    def limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def limit_param(self) -> str:
        return "max_completion_tokens" if self.max_completion_tokens else "max_tokens"

    def input_chars(self) -> tuple[str, int]:
        return "messages", sum(len(m.text()) for m in self.messages)

    def command(self, user, key) -> SendCommand:
        prompt = [
            {"role": "system" if m.role == "developer" else m.role, "content": m.text()}
            for m in self.messages
        ]
        # The session's title and the moderation's text: the last user turn with text in it.
        last_user = next(
            t["content"] for t in reversed(prompt) if t["role"] == "user" and t["content"].strip()
        )
        return SendCommand(
            user=user,
            message=last_user,
            models=[self.model],
            options=self.options(),
            prompt=prompt,
            api_key=key,
        )


# The legacy Completions API's default `max_tokens`, as OpenAI's.
COMPLETION_MAX_TOKENS = 16


class CompletionBody(Sampling):
    """OpenAI's legacy Completions request, answered by the model as one `user` message (the
    prompt) through the same send path as a chat completion. One prompt per request: a list
    holds exactly one. Echo, suffix, logprobs and best_of > 1 are refused, not ignored."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"model": EXAMPLE_MODEL, "prompt": "Once upon a time", "max_tokens": 20}]
        }
    )

    prompt: (
        Annotated[str, Field(pattern=r"\S")]
        | Annotated[list[Annotated[str, Field(pattern=r"\S")]], Field(min_length=1, max_length=1)]
    ) = Field(description="The text to complete (a string, or a list of one string)")
    echo: bool | None = Field(
        default=None,
        description="Not supported (false only)",
        json_schema_extra={"enum": [False, None]},
    )
    suffix: None = Field(default=None, description="Not supported (null only)")
    logprobs: None = Field(default=None, description="Not supported (null only)")
    best_of: int | None = Field(default=None, ge=1, le=1, description="Only 1 is supported")

    @field_validator("echo")
    @classmethod
    def _no_echo(cls, echo: bool | None) -> bool | None:
        if echo:
            raise ValueError("echo is not supported")
        return echo

    def text(self) -> str:
        return self.prompt[0] if isinstance(self.prompt, list) else self.prompt

    def limit(self) -> int | None:
        return self.max_tokens or COMPLETION_MAX_TOKENS

    def input_chars(self) -> tuple[str, int]:
        return "prompt", len(self.text())

    def command(self, user, key) -> SendCommand:
        return SendCommand(
            user=user,
            message=self.text(),
            models=[self.model],
            options=self.options(),
            prompt=[{"role": "user", "content": self.text()}],
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


class TextChoiceOut(BaseModel):
    index: int
    text: str
    finish_reason: Literal["stop", "length"]
    logprobs: None = None


class TextCompletionOut(BaseModel):
    """The legacy Completions answer. A streaming one is SSE `text_completion` events."""

    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[TextChoiceOut]
    usage: UsageOut
    system_fingerprint: str | None = None
    charged: int = Field(description="AI Pasta: wallet tokens charged for this answer")


class DeltaOut(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoiceOut(BaseModel):
    index: int
    delta: DeltaOut
    finish_reason: Literal["stop", "length"] | None
    logprobs: None = None


class ChatCompletionChunkOut(BaseModel):
    """One streamed event of a chat completion (`choices` is empty on the usage chunk)."""

    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    choices: list[ChunkChoiceOut] = Field(max_length=1)
    usage: UsageOut | None = None
    system_fingerprint: str | None = None


class TextChunkChoiceOut(BaseModel):
    index: int
    text: str
    finish_reason: Literal["stop", "length"] | None
    logprobs: None = None


class TextCompletionChunkOut(BaseModel):
    """One streamed event of a legacy completion (`choices` is empty on the usage chunk)."""

    id: str
    object: Literal["text_completion"]
    created: int
    model: str
    choices: list[TextChunkChoiceOut] = Field(max_length=1)
    usage: UsageOut | None = None
    system_fingerprint: str | None = None


def usage_out(usage: dict[str, Any]) -> dict[str, int]:
    return {
        "prompt_tokens": int(usage.get("promptTokens", 0)),
        "completion_tokens": int(usage.get("completionTokens", 0)),
        "total_tokens": int(usage.get("totalTokens", 0)),
    }
