"""Response models of the `/api` routes, for the OpenAPI document (`web.openapi`).

They describe the `data` of each answer as the serialisers build it (`common.users.snapshot`,
`common.conversations.serialize`, `common.catalog.service.model_view`). Fields the clients rely on are
listed; answers may carry more (the models allow extra fields), so a new field never breaks the
document. The fuzzer (`tests/integration/openai_api/test_api_fuzz.py`) checks real answers
against them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Empty(BaseModel):
    """An answer with nothing to say beyond its `message`."""

    model_config = ConfigDict(extra="forbid")


class TokensOut(Open):
    balance: int
    freeTokens: int  # noqa: N815
    purchasedTokens: int  # noqa: N815
    usedTokens: int  # noqa: N815
    reserved: int


class LimitsOut(Open):
    requestsPerDay: int | None  # noqa: N815
    tokensPerMonth: int | None  # noqa: N815


class SubscriptionOut(Open):
    plan: str
    expiresAt: str | None  # noqa: N815
    limits: LimitsOut


class UserSnapshot(Open):
    """The same user snapshot in every answer and websocket frame."""

    id: str
    email: str
    emailVerified: bool  # noqa: N815
    name: str | None
    role: str
    tokens: TokensOut
    credits: int | float
    subscription: SubscriptionOut


class UserData(Open):
    user: UserSnapshot


class SignedIn(Open):
    user: UserSnapshot
    token: str


class Capabilities(Open):
    """What the model takes on `/v1` (docs/openai.md, "What each model takes")."""

    tools: bool = Field(description="`tools`, `tool_choice`, `parallel_tool_calls`")
    jsonObject: bool = Field(description='`response_format: {"type": "json_object"}`')  # noqa: N815
    jsonSchema: bool = Field(description='`response_format: {"type": "json_schema"}`')  # noqa: N815
    images: bool = Field(description="`image_url` content parts")


class ModelView(Open):
    modelId: str  # noqa: N815
    name: str
    provider: str
    description: str
    pricing: dict[str, float]
    contextWindow: int  # noqa: N815
    capabilities: Capabilities
    inputModalities: list[str]  # noqa: N815
    tags: list[str] = Field(description="The guide's tags: text, image, code, reasoning")
    isFree: bool  # noqa: N815
    isAvailable: bool  # noqa: N815
    addedAt: str | None = Field(  # noqa: N815
        default=None, description="When the model entered our catalog (ISO 8601)"
    )
    weights: str | None = Field(
        default=None,
        description="The Hugging Face repo of the model's weights (lower case) when its provider "
        "names it; the same model through other providers has the same",
    )


class ModelList(Open):
    models: list[ModelView]
    total: int
    limit: int
    offset: int


class OneModel(Open):
    model: ModelView


class SessionView(Open):
    sessionId: str  # noqa: N815
    title: str
    models: list[str]
    messageCount: int  # noqa: N815
    totalTokens: int  # noqa: N815
    createdAt: str | None  # noqa: N815
    # The leaf of the branch shown (docs/chat.md, "Conversation trees").
    currentLeafId: str | None = None  # noqa: N815


class MessageView(Open):
    id: str
    sessionId: str  # noqa: N815
    role: str
    content: str
    modelId: str | None  # noqa: N815
    # The message this one follows: an answer's user message, a user message's answer.
    parentId: str | None = None  # noqa: N815
    status: str


class PendingMessage(Open):
    id: str
    modelId: str  # noqa: N815
    status: str


class SendAccepted(Open):
    """`POST /api/chat` answers 202 with this (or 200 with `message` and `usage` when
    `wait` is true)."""

    session: SessionView
    messages: list[PendingMessage] | list[MessageView]
    user: UserSnapshot


class SessionData(Open):
    session: SessionView
    user: UserSnapshot


class SessionList(Open):
    sessions: list[SessionView]
    pagination: dict[str, Any]
    user: UserSnapshot


class SessionMessages(Open):
    session: SessionView
    messages: list[MessageView]
    pagination: dict[str, Any]


class MessageData(Open):
    message: MessageView


class PlanView(Open):
    id: str
    name: str
    price: int | float
    currency: str
    tokens: int
    plan: str


class PlanList(Open):
    plans: list[PlanView]


class Health(Open):
    status: str


class RatesOut(Open):
    prompt: int
    completion: int


class ModelEstimateOut(Open):
    modelId: str  # noqa: N815
    hold: int
    likely: int
    promptTokens: int  # noqa: N815
    maxTokens: int  # noqa: N815
    rates: RatesOut


class SendEstimate(Open):
    models: list[ModelEstimateOut]
    total: int
    user: UserSnapshot
