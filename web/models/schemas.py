from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from web.validation import Query


class ModelListQuery(Query):
    provider: Literal["openrouter", "huggingface", "openai"] | None = None
    search: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=100, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=1_000_000)
    sort: Literal["default", "name", "price", "context"] = "default"
    free: bool | None = None


class ModelSpeed(BaseModel):
    ttftMs: float | None  # noqa: N815
    tokensPerSecond: float | None  # noqa: N815
    answers: int


class ModelSpeeds(BaseModel):
    """`GET /api/models/speeds`: per model id, how fast it answered lately."""

    speeds: dict[str, ModelSpeed]
    days: int
