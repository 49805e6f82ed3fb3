"""Request and response shapes of `/api/user/api-keys` (and the admin's view of them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from common.apikeys.service import NewKey
from web.validation import Body, Query

ModelId = Annotated[str, Field(min_length=1, max_length=200)]
TokenCap = Annotated[int, Field(ge=1, le=10**12)]


class CreateKeyBody(Body):
    name: str = Field(min_length=1, max_length=100)
    dailyTokenCap: TokenCap | None = None  # noqa: N815
    monthlyTokenCap: TokenCap | None = None  # noqa: N815
    models: list[ModelId] = Field(default_factory=list, max_length=100)
    # ISO 8601 text (JSON has no date type), so this one field is not strict.
    expiresAt: Annotated[datetime | None, Field(strict=False)] = None  # noqa: N815

    def command(self) -> NewKey:
        return NewKey(
            name=self.name,
            models=self.models,
            daily_token_cap=self.dailyTokenCap,
            monthly_token_cap=self.monthlyTokenCap,
            expires_at=self.expiresAt,
        )


class ListKeysQuery(Query):
    revoked: bool = Field(default=False, description="Also list revoked keys (with `revokedAt`)")


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="The secret's first characters, to recognise it")
    models: list[str] = Field(description="Allowed model ids; empty means every model")
    dailyTokenCap: int | None  # noqa: N815
    monthlyTokenCap: int | None  # noqa: N815
    expiresAt: str | None  # noqa: N815
    createdAt: str | None  # noqa: N815
    lastUsedAt: str | None = Field(description="Updated at most once a minute")  # noqa: N815
    revokedAt: str | None  # noqa: N815
    spentTokens: int = Field(description="Wallet tokens charged through this key")  # noqa: N815
    requests: int


class ApiKeyCreated(BaseModel):
    key: ApiKeyOut
    secret: str = Field(description="The key itself, shown this once and never again")


class ApiKeyList(BaseModel):
    keys: list[ApiKeyOut]


class ApiKeyRevoked(BaseModel):
    key: ApiKeyOut
