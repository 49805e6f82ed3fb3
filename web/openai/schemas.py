"""Request and response shapes of the OpenAI-compatible routes (`/v1`), as OpenAI defines them.

Requests are validated with these models (unknown fields ignored, as OpenAI does; what OpenAI's
API takes and we do not is refused by name); the response models describe what the routes
answer, for the OpenAPI document and the tests. The document is exact: what its schemas allow,
the server takes, except the rules tied to stored data or to another field's values (a model's
`capabilities`, a `tool_choice` naming a function of `tools`), each said in its description.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from common.conversations.images import URL_PATTERN
from common.errors import UnsupportedParameter
from common.sending.command import Needs, SendCommand, SendOptions
from web.validation import Body, setting_bound

ROLES = ("system", "developer", "user", "assistant", "tool")
# The content part types this server takes, by role; any other is a 400 naming the part
# (`messages.0.content.1`). A new type is a model here, a tag in its union and a name here.
PART_TYPES = ("text", "image_url")  # images only in `user` messages
TEXT = {"type": "string", "pattern": r"\S"}  # something besides spaces (strings are stripped)
FUNCTION_NAME = r"^[a-zA-Z0-9_-]{1,64}$"
MAX_FALLBACK_MODELS = 5
# What OpenAI's API takes and we do not (yet): refused by name, never ignored (docs/openai.md).
_UNSUPPORTED_PARTS = {
    "input_audio": "audio input is not supported",
    "file": "file input is not supported",
}


def _exact(pattern: str, **constraints: Any) -> Any:
    """A string that must match `pattern` as sent (not stripped first, as other strings are, so
    the document's pattern is the whole rule)."""
    return Annotated[str, StringConstraints(strip_whitespace=False, pattern=pattern, **constraints)]


FunctionName = _exact(FUNCTION_NAME)


def _part_types(*types: str) -> BeforeValidator:
    """Check a part's `type` before its fields, so an unsupported one is one clear error."""

    def check(value: Any) -> Any:
        kind = value.get("type") if isinstance(value, dict) else None
        if not isinstance(kind, str) or kind in types:
            return value
        if kind in PART_TYPES:
            raise ValueError(f"content parts of type {kind!r} are only taken in user messages")
        raise ValueError(
            f"content parts of type {kind!r} are not supported; use "
            + " or ".join(repr(t) for t in types)
        )

    return BeforeValidator(check)


_PART_TAGS = {"text": "text-part", "image_url": "image-part"}


def _part_kind(value: Any) -> str | None:
    """The member of `UserPart` for a part (tags that are no field's name, so an error's path
    in `web.validation` is the part's own)."""
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return _PART_TAGS.get(kind) if isinstance(kind, str) else None


class TextPart(Body):
    type: Literal["text"]
    text: str = Field(max_length=1_000_000)


class ImageUrl(Body):
    url: _exact(URL_PATTERN, min_length=1, max_length=1_000_000) = Field(
        description="An https: URL, or a data:image/(png|jpeg|gif|webp);base64,... URL "
        "(the whole request is at most 1 MB)",
    )
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(Body):
    """An image, for models whose `capabilities.images` is true (else 400 naming the part)."""

    type: Literal["image_url"]
    image_url: ImageUrl


TextOnlyPart = Annotated[TextPart, _part_types("text")]
UserPart = Annotated[
    Annotated[TextPart, Tag("text-part")] | Annotated[ImagePart, Tag("image-part")],
    Discriminator(
        _part_kind,
        custom_error_type="part_type",
        custom_error_message="must be a content part with a `type`: 'text' or 'image_url'",
    ),
    _part_types(*PART_TYPES),
]


def _content_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "string"
    return "parts" if isinstance(value, list) else None


def _content(part: Any) -> Any:
    """A string, or a list of `part`s. The discriminator picks the one that applies, so an
    error names the field (`messages.0.content`), not each alternative pydantic tried."""
    return Annotated[
        Annotated[str, Tag("string")] | Annotated[list[part], Tag("parts")],
        Discriminator(
            _content_kind,
            custom_error_type="content_type",
            custom_error_message="must be a string or a list of content parts",
        ),
    ]


TextContent = _content(TextOnlyPart)
UserContent = _content(UserPart)


class FunctionCall(Body):
    name: FunctionName
    arguments: str = Field(max_length=1_000_000, description="JSON text")


class ToolCallIn(Body):
    id: str = Field(min_length=1, max_length=256)
    type: Literal["function"]
    function: FunctionCall


class _Turn(Body):
    """One message of the conversation; each role's model narrows `role` and `content`."""

    role: str
    content: Any = None
    name: str | None = Field(default=None, max_length=256)

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content if isinstance(part, TextPart))
        return self.content or ""

    def images(self) -> list[int]:
        """The indexes of its image parts."""
        if not isinstance(self.content, list):
            return []
        return [i for i, part in enumerate(self.content) if isinstance(part, ImagePart)]

    def turn(self) -> dict[str, Any]:
        """The turn as sent to the provider (OpenAI's shape; `developer` sent as `system`)."""
        turn: dict[str, Any] = {"role": "system" if self.role == "developer" else self.role}
        if self.images():
            turn["content"] = [p.model_dump(exclude_none=True) for p in self.content]
        else:
            turn["content"] = self.text()
        return turn


class SystemMessage(_Turn):
    role: Literal["system", "developer"]
    content: TextContent | None = None


class UserMessage(_Turn):
    role: Literal["user"]
    content: UserContent | None = None


class AssistantMessage(_Turn):
    role: Literal["assistant"]
    content: TextContent | None = None
    tool_calls: list[ToolCallIn] | None = Field(
        default=None, max_length=128, description="The calls this turn made"
    )

    def turn(self) -> dict[str, Any]:
        turn = super().turn()
        if self.tool_calls:
            turn["tool_calls"] = [c.model_dump() for c in self.tool_calls]
            if self.content is None:
                turn["content"] = None
        return turn


class ToolMessage(_Turn):
    role: Literal["tool"]
    content: TextContent
    tool_call_id: str = Field(min_length=1, max_length=256, description="The call answered")

    def turn(self) -> dict[str, Any]:
        return {**super().turn(), "tool_call_id": self.tool_call_id}


# One message, by its `role` (an unknown role is a 400 naming `messages.<i>.role`).
ChatMessageIn = Annotated[
    SystemMessage | UserMessage | AssistantMessage | ToolMessage, Field(discriminator="role")
]


class FunctionDef(Body):
    name: FunctionName
    description: str | None = Field(default=None, max_length=100_000)
    parameters: dict[str, Any] | None = Field(default=None, description="A JSON Schema object")
    strict: bool | None = None


class ToolDef(Body):
    type: Literal["function"]
    function: FunctionDef


class FunctionRef(Body):
    name: FunctionName


class NamedToolChoice(Body):
    type: Literal["function"]
    function: FunctionRef


class JsonSchemaSpec(Body):
    name: FunctionName
    description: str | None = Field(default=None, max_length=100_000)
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class TextFormat(Body):
    type: Literal["text"]


class JsonObjectFormat(Body):
    type: Literal["json_object"]


class JsonSchemaFormat(Body):
    type: Literal["json_schema"]
    json_schema: JsonSchemaSpec


ResponseFormat = Annotated[
    TextFormat | JsonObjectFormat | JsonSchemaFormat, Field(discriminator="type")
]


class StreamOptions(Body):
    include_usage: bool | None = None


# At least one `user` message with text or an image (JSON Schema's `contains`).
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
                        "anyOf": [
                            {
                                "type": "object",
                                "required": ["type", "text"],
                                "properties": {"type": {"const": "text"}, "text": TEXT},
                            },
                            {
                                "type": "object",
                                "required": ["type"],
                                "properties": {"type": {"const": "image_url"}},
                            },
                        ]
                    },
                },
            ]
        },
    },
}
# `tool_choice` (not null) needs `tools` with at least one tool.
TOOL_CHOICE_NEEDS_TOOLS = {
    "if": {"required": ["tool_choice"], "properties": {"tool_choice": {"not": {"type": "null"}}}},
    "then": {"required": ["tools"], "properties": {"tools": {"type": "array", "minItems": 1}}},
}
NOT_SUPPORTED = "Not supported: anything but null is a 400 `unsupported_parameter`"


class Sampling(Body):
    """What every `/v1` generation request takes besides its input (OpenAI's names), and how
    it becomes the send path's `SendCommand`."""

    model: str = Field(min_length=1, max_length=200)
    models: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        default=None,
        max_length=MAX_FALLBACK_MODELS,
        description="OpenRouter's fallback list: tried in order after `model` when its provider "
        "fails before the first token (`model` itself may be listed; it is skipped). Each is "
        "checked as `model` is, the error naming `models.<i>` (docs/openai.md, Fallback)",
    )
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

    def input_chars(self) -> tuple[str, int]:
        """The input's field name and its length in characters."""
        raise NotImplementedError

    def turns(self) -> list[dict[str, Any]]:
        """The turns sent to the provider (OpenAI's shape)."""
        raise NotImplementedError

    def message(self) -> str:
        """The session's title and the text of the stored user message."""
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        """What goes to the provider as it is (`common.providers.base.PASSED_PARAMS`)."""
        return {}

    def needs(self) -> Needs:
        """What the request needs of the model (checked against its catalog entry)."""
        return Needs()

    def command(self, user, key) -> SendCommand:
        return SendCommand(
            user=user,
            message=self.message(),
            models=[self.model],
            options=self.options(),
            prompt=self.turns(),
            api_key=key,
            params=self.params() or None,
            needs=self.needs(),
            fallbacks=list(self.models or []),
            same_model_fallback=True,
        )


EXAMPLE_MODEL = "deepseek/deepseek-r1:free"


class ChatCompletionBody(Sampling):
    """OpenAI's Chat Completions request. New fields are added here with their own `param`
    names; `command()` turns the request into the send path's `SendCommand`."""

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
            ],
            "allOf": [TOOL_CHOICE_NEEDS_TOOLS],
        }
    )

    messages: list[ChatMessageIn] = Field(
        min_length=1,
        max_length=1000,
        json_schema_extra={"contains": A_USER_TURN},
        description="At least one `user` message with text or an image",
    )
    max_completion_tokens: int | None = setting_bound("max_tokens_per_request", default=None, ge=1)
    tools: list[ToolDef] | None = Field(
        default=None,
        max_length=128,
        description="For models whose `capabilities.tools` is true (else 400 "
        "`unsupported_parameter`)",
    )
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = Field(
        default=None,
        description="Needs `tools`; a named function must be one of `tools` (else 400)",
    )
    parallel_tool_calls: bool | None = Field(default=None, description="Passed on with `tools`")
    response_format: ResponseFormat | None = Field(
        default=None,
        description="`json_object` / `json_schema` for models whose `capabilities.jsonObject` / "
        "`capabilities.jsonSchema` is true (else 400 `unsupported_parameter`)",
    )
    logprobs: bool | None = Field(
        default=None,
        description="Only false: true is a 400 `unsupported_parameter`",
        json_schema_extra={"enum": [False, None]},
    )
    top_logprobs: None = Field(default=None, description=NOT_SUPPORTED)
    modalities: list[Literal["text"]] | None = Field(
        default=None, description='Only `["text"]`: `"audio"` is a 400 `unsupported_parameter`'
    )
    audio: None = Field(default=None, description=NOT_SUPPORTED)
    prediction: None = Field(default=None, description=NOT_SUPPORTED)
    web_search_options: None = Field(default=None, description=NOT_SUPPORTED)

    @model_validator(mode="before")
    @classmethod
    def _refuse_unsupported(cls, data: Any) -> Any:
        """Features of OpenAI's API we do not offer are refused by name (400), not ignored."""
        if not isinstance(data, dict):
            return data
        for name in ("audio", "top_logprobs", "prediction", "web_search_options"):
            if data.get(name) is not None:
                raise UnsupportedParameter(f"{name} is not supported.", {"field": name})
        if isinstance(data.get("modalities"), list) and "audio" in data["modalities"]:
            raise UnsupportedParameter("Audio output is not supported.", {"field": "modalities"})
        if data.get("logprobs") is True:
            raise UnsupportedParameter("logprobs is not supported.", {"field": "logprobs"})
        for i, message in enumerate(data.get("messages") or []):
            content = message.get("content") if isinstance(message, dict) else None
            for j, part in enumerate(content if isinstance(content, list) else []):
                kind = part.get("type") if isinstance(part, dict) else None
                if isinstance(kind, str) and kind in _UNSUPPORTED_PARTS:
                    field = f"messages.{i}.content.{j}"
                    raise UnsupportedParameter(
                        f"{field}: {_UNSUPPORTED_PARTS[kind]}.", {"field": field}
                    )
        return data

    @field_validator("messages")
    @classmethod
    def _a_user_turn(cls, messages: list[_Turn]) -> list[_Turn]:
        if not any(m.role == "user" and (m.text().strip() or m.images()) for m in messages):
            raise ValueError("must contain a user message with text or an image")
        return messages

    @field_validator("tool_choice")
    @classmethod
    def _a_tool_to_choose(cls, choice: Any, info: ValidationInfo) -> Any:
        if choice is None or "tools" not in info.data:  # no choice, or `tools` already failed
            return choice
        tools = info.data["tools"] or []
        if not tools:
            raise ValueError("needs `tools` (at least one)")
        named = choice.function.name if isinstance(choice, NamedToolChoice) else None
        if named is not None and named not in {t.function.name for t in tools}:
            raise ValueError(f"names {named!r}, which is not in `tools`")
        return choice

    def limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def limit_param(self) -> str:
        return "max_completion_tokens" if self.max_completion_tokens else "max_tokens"

    def input_chars(self) -> tuple[str, int]:
        return "messages", sum(len(m.text()) for m in self.messages)

    def turns(self) -> list[dict[str, Any]]:
        return [m.turn() for m in self.messages]

    def message(self) -> str:
        """The last user turn with text in it, or `(image)` when the user sent only images."""
        texts = (m.text().strip() for m in reversed(self.messages) if m.role == "user")
        return next((t for t in texts if t), "(image)")

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self.tools:
            params["tools"] = [t.model_dump(exclude_none=True) for t in self.tools]
            if self.tool_choice is not None:
                choice = self.tool_choice
                params["tool_choice"] = choice if isinstance(choice, str) else choice.model_dump()
            if self.parallel_tool_calls is not None:
                params["parallel_tool_calls"] = self.parallel_tool_calls
        if self.response_format is not None and self.response_format.type != "text":
            params["response_format"] = self.response_format.model_dump(
                by_alias=True, exclude_none=True
            )
        return params

    def needs(self) -> Needs:
        tool_turns = any(
            isinstance(m, ToolMessage) or (isinstance(m, AssistantMessage) and m.tool_calls)
            for m in self.messages
        )
        fmt = self.response_format.type if self.response_format is not None else None
        image = next(
            (
                f"messages.{i}.content.{m.images()[0]}"
                for i, m in enumerate(self.messages)
                if m.images()
            ),
            None,
        )
        return Needs(
            tools=bool(self.tools) or tool_turns,
            response_format=fmt if fmt != "text" else None,
            image_param=image,
        )


# The legacy Completions API's default `max_tokens`, as OpenAI's.
COMPLETION_MAX_TOKENS = 16


class CompletionBody(Sampling):
    """OpenAI's legacy Completions request, answered by the model as one `user` message (the
    prompt) through the same send path as a chat completion (fallbacks too). One prompt per
    request: a list holds exactly one. Echo, suffix, logprobs and best_of > 1 are refused, not
    ignored."""

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

    def turns(self) -> list[dict[str, Any]]:
        return [{"role": "user", "content": self.text()}]

    def message(self) -> str:
        return self.text()


# -- answers --------------------------------------------------------------------------------------

FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]


class CapabilitiesOut(BaseModel):
    tools: bool = Field(description="takes `tools`, `tool_choice`, `parallel_tool_calls`")
    jsonObject: bool = Field(description="takes `response_format` json_object")  # noqa: N815
    jsonSchema: bool = Field(description="takes `response_format` json_schema")  # noqa: N815
    images: bool = Field(description="takes `image_url` content parts")


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    capabilities: CapabilitiesOut = Field(description="AI Pasta: what the model takes")
    input_modalities: list[str] = Field(description="OpenRouter's: text, image, ...")


class ModelListOut(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]


class UsageOut(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost: int = Field(description="What the answer was charged, in wallet tokens")


class FunctionCallOut(BaseModel):
    name: str
    arguments: str = Field(description="JSON text")


class ToolCallOut(BaseModel):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCallOut


class AssistantMessageOut(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None = Field(description="null when the answer is only tool calls")
    refusal: None = None
    tool_calls: list[ToolCallOut] | None = Field(
        default=None, description="Present when the model called tools"
    )


class ChoiceOut(BaseModel):
    index: int
    message: AssistantMessageOut
    finish_reason: FinishReason
    logprobs: None = None


class ChatCompletionOut(BaseModel):
    """The non-streaming answer. A streaming one is SSE `chat.completion.chunk` events."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = Field(description="The model that answered (a fallback's, if one did)")
    choices: list[ChoiceOut]
    usage: UsageOut
    system_fingerprint: str | None = None
    charged: int = Field(description="AI Pasta: wallet tokens charged for this answer")


class TextChoiceOut(BaseModel):
    index: int
    text: str
    finish_reason: Literal["stop", "length", "content_filter"]
    logprobs: None = None


class TextCompletionOut(BaseModel):
    """The legacy Completions answer. A streaming one is SSE `text_completion` events."""

    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str = Field(description="The model that answered (a fallback's, if one did)")
    choices: list[TextChoiceOut]
    usage: UsageOut
    system_fingerprint: str | None = None
    charged: int = Field(description="AI Pasta: wallet tokens charged for this answer")


class FunctionDeltaOut(BaseModel):
    name: str | None = Field(default=None, description="In a call's first fragment")
    arguments: str = Field(description="A piece of the JSON text")


class ToolCallDeltaOut(BaseModel):
    """One fragment of a tool call: its first has `id`, `type` and `function.name`."""

    index: int
    id: str | None = None
    type: Literal["function"] | None = None
    function: FunctionDeltaOut


class DeltaOut(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    tool_calls: list[ToolCallDeltaOut] | None = None


class ChunkChoiceOut(BaseModel):
    index: int
    delta: DeltaOut
    finish_reason: FinishReason | None
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
    finish_reason: Literal["stop", "length", "content_filter"] | None
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
