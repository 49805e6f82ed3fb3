"""Request shapes for `/api/chat` and the websocket's `chat.send` frame."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from common.conversations.images import URL_PATTERN
from common.sending.command import Needs, SendCommand, SendOptions
from common.users.models import User
from web.validation import Body, Query

MAX_IMAGES = 4


class OptionsBody(Body):
    temperature: float | None = None
    maxTokens: int | None = None  # noqa: N815
    topP: float | None = None  # noqa: N815


class SendBody(Body):
    message: str = Field(default="", max_length=1_000_000)
    modelId: str | None = Field(default=None, max_length=200)  # noqa: N815
    models: list[str] | str | None = None
    sessionId: str | None = Field(default=None, max_length=100)  # noqa: N815
    # Regenerate: answer this user message of `sessionId` again (`message` is then ignored).
    parentId: str | None = Field(default=None, max_length=100)  # noqa: N815
    options: OptionsBody = Field(default_factory=OptionsBody)
    wait: bool = False
    images: list[Annotated[str, Field(min_length=1, max_length=1_000_000, pattern=URL_PATTERN)]] = (
        Field(
            default_factory=list,
            max_length=MAX_IMAGES,
            description="Images sent with the message: https: URLs or data:image/(png|jpeg|gif|webp)"
            ";base64 URLs (the whole request is at most 1 MB), for models whose "
            "`capabilities.images` is true",
        )
    )

    @model_validator(mode="after")
    def _one_of_models(self):
        if not self.model_ids():
            raise ValueError("give modelId (one model) or models (a list of model ids)")
        return self

    def model_ids(self) -> list[str]:
        if isinstance(self.models, str):
            return [self.models]
        if self.models:
            return list(self.models)
        return [self.modelId] if self.modelId else []

    def command(self, user: User, idempotency_key: str | None = None) -> SendCommand:
        o = self.options
        return SendCommand(
            user=user,
            message=self.message,
            models=self.model_ids(),
            session_id=self.sessionId or None,
            parent_id=self.parentId or None,
            options=SendOptions(temperature=o.temperature, max_tokens=o.maxTokens, top_p=o.topP),
            idempotency_key=idempotency_key,
            images=list(self.images),
            needs=Needs(image_param="images") if self.images else Needs(),
        )


class SessionBody(Body):
    title: str | None = Field(default=None, max_length=200)
    modelId: str | None = Field(default=None, max_length=200)  # noqa: N815


class SessionPatchBody(Body):
    """Rename and/or pin: at least one of the two."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    pinned: bool | None = None

    @model_validator(mode="after")
    def _something(self):
        if self.title is None and self.pinned is None:
            raise ValueError("give title and/or pinned")
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


class ReportBody(Body):
    reason: str = Field(default="", max_length=500)
