from __future__ import annotations

from typing import Annotated, Literal

from pydantic import EmailStr, Field

from web.api_models import Open
from web.validation import Body, Query, setting_bound

ModelId = Annotated[str, Field(min_length=1, max_length=200)]


class PreferencesBody(Body):
    theme: Literal["light", "dark", "auto"] | None = None
    defaultModels: list[ModelId] | None = Field(default=None, max_length=10)  # noqa: N815
    language: str | None = Field(default=None, min_length=2, max_length=16)
    temperature: float | None = Field(default=None, ge=0, le=2)
    maxTokens: int | None = setting_bound("max_tokens_per_request", default=None, ge=1)  # noqa: N815


class DeleteAccountBody(Body):
    """Deleting an account asks for the password (none for a Google-only account) and the word."""

    password: str = Field(default="", max_length=128)
    confirm: Literal["DELETE"]


class ProfileBody(Body):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    avatar: str | None = Field(default=None, max_length=2048)
    preferences: PreferencesBody | None = None


class PasswordBody(Body):
    currentPassword: str = Field(default="", max_length=128)  # noqa: N815
    newPassword: str = Field(min_length=8, max_length=128)  # noqa: N815


class EmailChangeBody(Body):
    newEmail: EmailStr = Field(max_length=254)  # noqa: N815
    password: str = Field(default="", max_length=128)  # none for a Google-only account


class EmailChangeAccepted(Open):
    email: str
    pendingEmail: str  # noqa: N815


class PaymentsQuery(Query):
    page: int = Field(default=1, ge=1, le=10_000)
    limit: int = Field(default=20, ge=1, le=100)
