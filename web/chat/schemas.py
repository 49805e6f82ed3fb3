"""Request shapes for `/api/chat` and the websocket's `chat.send` frame."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from common.conversations.images import URL_PATTERN
from common.sending.command import Needs, SendCommand, SendOptions
from common.sending.validation import MAX_MODELS
from common.users.models import User
from web.validation import Body, Query, setting_bound

MAX_IMAGES = 4
# An image URL as sent (not stripped first, so the document's pattern is the whole rule).
ImageUrl = Annotated[
    str,
    StringConstraints(
        strip_whitespace=False, min_length=1, max_length=1_000_000, pattern=URL_PATTERN
    ),
]


class OptionsBody(Body):
    temperature: float | None = Field(default=None, ge=0, le=2)
    maxTokens: int | None = setting_bound("max_tokens_per_request", default=None, ge=1)  # noqa: N815
    topP: float | None = Field(default=None, gt=0, le=1)  # noqa: N815


ModelId = Annotated[str, Field(max_length=200)]
# Text with something besides spaces (strings are stripped, and an empty one counts as absent).
TEXT = {"type": "string", "pattern": r"\S"}
MODEL_IDS = {"anyOf": [TEXT, {"type": "array", "contains": TEXT}]}


class SendBody(Body):
    """A send. What JSON Schema can say of the rules between fields is in `allOf`: a model
    (`modelId`, or `models` with at least one id), and text (`message`) unless it regenerates
    (`parentId`, which needs `sessionId`)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"message": "Hello!", "modelId": "deepseek/deepseek-r1:free"},
                {
                    "message": "Compare these two answers",
                    "models": ["deepseek/deepseek-r1:free", "agentica/deepcoder:free"],
                    "options": {"maxTokens": 200, "temperature": 0.7},
                    "wait": True,
                },
            ],
            "allOf": [
                {
                    "anyOf": [
                        {"required": ["modelId"], "properties": {"modelId": TEXT}},
                        {"required": ["models"], "properties": {"models": MODEL_IDS}},
                    ]
                },
                {
                    "anyOf": [
                        {"required": ["message"], "properties": {"message": TEXT}},
                        {"required": ["parentId"], "properties": {"parentId": TEXT}},
                    ]
                },
                {
                    "if": {"required": ["parentId"], "properties": {"parentId": TEXT}},
                    "then": {"required": ["sessionId"], "properties": {"sessionId": TEXT}},
                },
            ],
        }
    )

    message: str = setting_bound("max_message_chars", "maxLength", default="")
    modelId: str | None = Field(default=None, max_length=200)  # noqa: N815
    models: Annotated[list[ModelId], Field(max_length=MAX_MODELS)] | ModelId | None = Field(
        default=None, description=f"Model ids (at most {MAX_MODELS})"
    )
    sessionId: str | None = Field(default=None, max_length=100)  # noqa: N815
    # Regenerate: answer this user message of `sessionId` again (`message` is then ignored).
    parentId: str | None = Field(default=None, max_length=100)  # noqa: N815
    # Edit: the new user message becomes a sibling of this one (a new branch from there).
    editOf: str | None = Field(default=None, max_length=100)  # noqa: N815
    # The message the new user message follows (default: the session's current leaf).
    afterId: str | None = Field(default=None, max_length=100)  # noqa: N815
    options: OptionsBody = Field(default_factory=OptionsBody)
    wait: bool = False
    images: list[ImageUrl] = Field(
        default_factory=list,
        max_length=MAX_IMAGES,
        description="Images sent with the message: https: URLs or data:image/(png|jpeg|gif|webp)"
        ";base64 URLs (the whole request is at most 1 MB), for models whose "
        "`capabilities.images` is true (else 400 `UNSUPPORTED_PARAMETER`, `field: images`)",
    )

    @model_validator(mode="after")
    def _one_of_models(self):
        if not self.model_ids():
            raise ValueError("give modelId (one model) or models (a list of model ids)")
        return self

    def model_ids(self) -> list[str]:
        """`models` (without blanks) if it names any, else `modelId`."""
        named = [self.models] if isinstance(self.models, str) else self.models or []
        named = [m for m in named if m]
        if named:
            return named
        return [self.modelId] if self.modelId else []

    def command(self, user: User, idempotency_key: str | None = None) -> SendCommand:
        o = self.options
        return SendCommand(
            user=user,
            message=self.message,
            models=self.model_ids(),
            session_id=self.sessionId or None,
            parent_id=self.parentId or None,
            edit_of=self.editOf or None,
            after_id=self.afterId or None,
            options=SendOptions(temperature=o.temperature, max_tokens=o.maxTokens, top_p=o.topP),
            idempotency_key=idempotency_key,
            images=list(self.images),
            needs=Needs(image_param="images") if self.images else Needs(),
        )


class SessionBody(Body):
    title: str | None = Field(default=None, max_length=200)
    modelId: str | None = Field(default=None, max_length=200)  # noqa: N815


class SessionPatchBody(Body):
    """Rename, pin, and/or show another branch: at least one of the three."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["title"], "properties": {"title": {"type": "string"}}},
                {"required": ["pinned"], "properties": {"pinned": {"type": "boolean"}}},
            ]
        }
    )

    title: str | None = Field(default=None, min_length=1, max_length=200)
    pinned: bool | None = None
    # Show the branch through this message (its newest leaf) from now on.
    currentLeafId: str | None = Field(default=None, min_length=1, max_length=100)  # noqa: N815

    @model_validator(mode="after")
    def _something(self):
        if self.title is None and self.pinned is None and self.currentLeafId is None:
            raise ValueError("give title, pinned and/or currentLeafId")
        return self


class SearchQuery(Query):
    q: str = Field(min_length=1, max_length=200)
    page: int = Field(default=1, ge=1, le=100_000)
    limit: int = Field(default=20, ge=1, le=100)


class PageQuery(Query):
    page: int = Field(default=1, ge=1, le=100_000)
    limit: int = Field(default=20, ge=1, le=100)


class MessagesPageQuery(Query):
    page: int = Field(default=1, ge=1, le=100_000)
    limit: int = Field(default=50, ge=1, le=200)
    # "all": every message of the tree; "current": the branch the session shows.
    branch: Literal["all", "current"] = "all"
    # The branch through this message (its newest leaf); implies a branch.
    leafId: str | None = Field(default=None, min_length=1, max_length=100)  # noqa: N815


class ReportBody(Body):
    reason: str = Field(default="", max_length=500)
