"""`/api/user/usage` and `/api/user/ledger`: the caller's own usage and wallet movements, and
`/api/user/usage/api-requests`: the API usage records of its `/v1` requests (the usage screen
exports them as CSV, as it does the ledger)."""

from __future__ import annotations

from flask import Blueprint, g
from pydantic import Field, field_validator

from common.accounts import usage as service
from common.apikeys import service as keys
from common.sending.daily import daily_used
from web.openapi import operation
from web.responses import ok
from web.security import login_required
from web.validation import Query, parse_query

bp = Blueprint("user_usage", __name__, url_prefix="/api/user")


class UsageQuery(Query):
    days: int = Field(default=30, json_schema_extra={"enum": [7, 30, 90]})

    @field_validator("days")
    @classmethod
    def _known_range(cls, value: int) -> int:
        if value not in (7, 30, 90):
            raise ValueError("days must be 7, 30 or 90")
        return value


class LedgerQuery(Query):
    page: int = Field(default=1, ge=1, le=10_000)
    limit: int = Field(default=50, ge=1, le=200)


class ApiRequestsQuery(LedgerQuery):
    keyId: str | None = Field(default=None, pattern=r"^[0-9a-f]{24}$")  # noqa: N815


@bp.get("/usage")
@login_required
@operation(
    "Your tokens and cost per day and per model over 7, 30 or 90 days",
    tags=("User",),
    query=UsageQuery,
    responses={200: None},
)
def get_usage():
    q = parse_query(UsageQuery)
    data = service.usage(g.user.id, q.days)
    named = {str(k.id): k for k in keys.list_keys(g.user.id, include_revoked=True)}
    for row in data["byKey"]:  # a deleted key keeps its id
        key = named.get(row["apiKeyId"])
        row.update(name=key.name if key else None, prefix=key.prefix if key else None)
    limit = int(g.user.subscription.limits.requestsPerDay or 0)
    data["today"] = {"requests": daily_used(g.user), "limit": limit or None}
    data["user"] = g.user_snapshot()
    return ok(data)


@bp.get("/usage/api-requests")
@login_required
@operation(
    "Your OpenAI-compatible API requests' usage records, newest first (paginated; one key's "
    "with keyId)",
    tags=("User",),
    query=ApiRequestsQuery,
    responses={200: None},
)
def get_api_requests():
    q = parse_query(ApiRequestsQuery)
    records, total = service.api_requests(g.user.id, q.keyId, q.page, q.limit)
    pages = max(1, -(-total // q.limit))
    return ok(
        {"requests": records, "total": total, "page": q.page, "limit": q.limit, "totalPages": pages}
    )


@bp.get("/ledger")
@login_required
@operation(
    "Your wallet's ledger, newest first (paginated)",
    tags=("User",),
    query=LedgerQuery,
    responses={200: None},
)
def get_ledger():
    q = parse_query(LedgerQuery)
    entries, total = service.ledger(g.user.id, q.page, q.limit)
    pages = max(1, -(-total // q.limit))
    return ok(
        {"entries": entries, "total": total, "page": q.page, "limit": q.limit, "totalPages": pages}
    )
