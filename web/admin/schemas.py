"""Request bodies and query strings of the admin API."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from common.admin.users import UserQuery
from common.audit.service import AuditFilter
from web.api_models import Open
from web.validation import Body, Day, Query

IDEMPOTENCY_KEY = r"^[A-Za-z0-9_-]{8,100}$"


class UserListQuery(Query):
    q: str | None = Field(default=None, max_length=200)
    role: Literal["user", "admin"] | None = None
    active: bool | None = None
    plan: Literal["free", "pro", "enterprise"] | None = None
    sort: Literal["createdAt", "email", "name", "tokens.balance", "usage"] = "createdAt"
    order: Literal["asc", "desc"] = "desc"
    page: int = Field(default=1, ge=1, le=100_000)
    limit: int = Field(default=20, ge=1, le=100)

    def command(self) -> UserQuery:
        return UserQuery(
            search=self.q,
            role=self.role,
            active=self.active,
            plan=self.plan,
            sort=self.sort,
            order=self.order,
            page=self.page,
            limit=self.limit,
        )


class DeactivateBody(Body):
    reason: str = Field(default="", max_length=500)


class BanBody(Body):
    reason: str = Field(min_length=1, max_length=500)


class RoleBody(Body):
    role: Literal["user", "admin"]


class TokensBody(Body):
    amount: int = Field(ge=1, le=100_000_000)
    reason: str = Field(min_length=1, max_length=500)
    idempotencyKey: str | None = Field(default=None, pattern=IDEMPOTENCY_KEY)  # noqa: N815


class ResetBody(Body):
    idempotencyKey: str | None = Field(default=None, pattern=IDEMPOTENCY_KEY)  # noqa: N815


class AnalyticsQuery(Query):
    from_: Day | None = Field(default=None, alias="from")
    to: Day | None = None
    granularity: Literal["day", "week"] = "day"
    top: int = Field(default=10, ge=1, le=100)


class FlaggedQuery(Query):
    type: Literal["message", "session", "attempt"] | None = None
    status: Literal["open", "reviewed", "all"] = "open"
    source: Literal["user", "admin", "provider", "blocked_term"] | None = None
    page: int = Field(default=1, ge=1, le=100_000)
    limit: int = Field(default=20, ge=1, le=100)


class ContextQuery(Query):
    around: int = Field(
        default=3, ge=0, le=20, description="How many messages before and after (at most 20)"
    )


class FlagBody(Body):
    reason: str = Field(default="", max_length=500)


class HideBody(Body):
    hidden: bool = True


class TermBody(Body):
    term: str = Field(min_length=1, max_length=100)


class AuditQuery(Query):
    action: str | None = Field(default=None, max_length=100)
    targetType: str | None = Field(default=None, max_length=50)  # noqa: N815
    targetId: str | None = Field(default=None, max_length=200)  # noqa: N815
    adminId: str | None = Field(default=None, max_length=100)  # noqa: N815
    # Entries by this person, or done to them (their account's email, any case).
    email: str | None = Field(
        default=None, min_length=3, max_length=254, pattern=r"^[!-~]+@[!-~]+$"
    )
    from_: Day | None = Field(
        default=None, alias="from", description="First UTC day (YYYY-MM-DD), inclusive"
    )
    to: Day | None = Field(default=None, description="Last UTC day (YYYY-MM-DD), inclusive")
    page: int = Field(default=1, ge=1, le=100_000)
    limit: int = Field(default=50, ge=1, le=200)

    @model_validator(mode="after")
    def _ordered(self) -> AuditQuery:
        if self.from_ and self.to and self.from_ > self.to:
            raise ValueError("from is after to")
        return self

    def command(self) -> AuditFilter:
        return AuditFilter(
            page=self.page,
            limit=self.limit,
            action=self.action,
            target_type=self.targetType,
            target_id=self.targetId,
            admin_id=self.adminId,
            day_from=self.from_,
            day_to=self.to,
            email=self.email,
        )


class MailQuery(Query):
    status: Literal["pending", "sending", "sent", "failed", "expired"] | None = None
    page: int = Field(default=1, ge=1, le=100_000)
    limit: int = Field(default=50, ge=1, le=200)


class MailView(Open):
    id: str
    key: str
    kind: str
    to: str
    subject: str
    status: str
    attempts: int
    lastError: str | None  # noqa: N815
    createdAt: str | None  # noqa: N815
    sentAt: str | None  # noqa: N815
    nextAttemptAt: str | None  # noqa: N815


class MailList(Open):
    mail: list[MailView]
    total: int


class MailRow(Open):
    mail: MailView
