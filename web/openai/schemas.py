"""Request and response shapes of the OpenAI-compatible routes (`/v1`), as OpenAI defines them.

Requests are validated with these models (unknown fields ignored, as OpenAI does); the response
models describe what the routes answer, for the OpenAPI document and the tests.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from common.conversations.images import URL_PATTERN
from common.errors import UnsupportedParameter
from common.sending.command import Needs, SendCommand, SendOptions
from web.validation import Body

ROLES = ("system", "developer", "user", "assistant", "tool")
FUNCTION_NAME = r"^[a-zA-Z0-9_-]{1,64}$"
IMAGE_URL = URL_PATTERN
MAX_FALLBACK_MODELS = 5


class TextPart(Body):
    type: Literal["text"]
    text: str = Field(max_length=1_000_000)


class ImageUrl(Body):
    url: str = Field(
        min_length=1,
        max_length=1_000_000,
        pattern=IMAGE_URL,
        description="An https: URL, or a data:image/(png|jpeg|gif|webp);base64,... URL "
        "(the whole request is at most 1 MB)",
    )
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(Body):
    """An image, for models whose `capabilities.images` is true (else 400 naming the part)."""

    type: Literal["image_url"]
    image_url: ImageUrl


UserPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]


class FunctionCall(Body):
    name: str = Field(pattern=FUNCTION_NAME)
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
    content: str | list[TextPart] | None = None


class UserMessage(_Turn):
    role: Literal["user"]
    content: str | list[UserPart] | None = None


class AssistantMessage(_Turn):
    role: Literal["assistant"]
    content: str | list[TextPart] | None = None
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
    content: str | list[TextPart]
    tool_call_id: str = Field(min_length=1, max_length=256, description="The call answered")

    def turn(self) -> dict[str, Any]:
        return {**super().turn(), "tool_call_id": self.tool_call_id}


ChatMessageIn = Annotated[
    SystemMessage | UserMessage | AssistantMessage | ToolMessage, Field(discriminator="role")
]


class FunctionDef(Body):
    name: str = Field(pattern=FUNCTION_NAME)
    description: str | None = Field(default=None, max_length=100_000)
    parameters: dict[str, Any] | None = Field(default=None, description="A JSON Schema object")
    strict: bool | None = None


class ToolDef(Body):
    type: Literal["function"]
    function: FunctionDef


class FunctionName(Body):
    name: str = Field(pattern=FUNCTION_NAME)


class NamedToolChoice(Body):
    type: Literal["function"]
    function: FunctionName


class JsonSchemaSpec(Body):
    name: str = Field(pattern=FUNCTION_NAME)
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


# What OpenAI's API takes and we do not (yet): refused by name, never ignored (docs/openai.md).
_UNSUPPORTED_PARTS = {
    "input_audio": "audio input is not supported",
    "file": "file input is not supported",
}


class ChatCompletionBody(Body):
    model_config = ConfigDict(json_schema_extra={"dependentRequired": {"tool_choice": ["tools"]}})

    model: str = Field(min_length=1, max_length=200)
    models: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        default=None,
        max_length=MAX_FALLBACK_MODELS,
        description="OpenRouter's fallback list: tried in order after `model` when its provider "
        "fails before the first token (docs/openai.md, Fallback)",
    )
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
    tools: list[ToolDef] | None = Field(default=None, max_length=128)
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    logprobs: bool | None = Field(default=None, description="Only false is supported")

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
                if kind in _UNSUPPORTED_PARTS:
                    field = f"messages.{i}.content.{j}"
                    raise UnsupportedParameter(
                        f"{field}: {_UNSUPPORTED_PARTS[kind]}.", {"field": field}
                    )
        return data

    @model_validator(mode="after")
    def _a_user_turn(self):
        if not any(m.role == "user" and (m.text().strip() or m.images()) for m in self.messages):
            raise ValueError("messages must contain a user message with text or an image")
        if self.tool_choice is not None and not self.tools:
            raise ValueError("tool_choice needs tools")
        if isinstance(self.tool_choice, NamedToolChoice):
            names = {t.function.name for t in self.tools or []}
            if self.tool_choice.function.name not in names:
                raise ValueError("tool_choice names a function that is not in tools")
        return self

    @property
    def wants_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)

    def limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def params(self) -> dict[str, Any]:
        """What goes to the provider as it is (`common.providers.base.PASSED_PARAMS`)."""
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
        """What the request needs of the model (checked against its catalog entry)."""
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

    def command(self, user, key) -> SendCommand:
        prompt = [m.turn() for m in self.messages]
        users = [m for m in self.messages if m.role == "user"]
        last_user = users[-1].text().strip() or "(image)"
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
            params=self.params() or None,
            needs=self.needs(),
            fallbacks=list(self.models or []),
            same_model_fallback=True,
        )


# -- answers --------------------------------------------------------------------------------------


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
    finish_reason: Literal["stop", "length", "tool_calls", "content_filter"]
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
