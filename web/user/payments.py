"""`/api/user/payments`: the caller's orders and payments, newest first."""

from __future__ import annotations

from flask import Blueprint, g

from common.payments import service
from web.openapi import operation
from web.responses import ok
from web.security import login_required
from web.user.schemas import PaymentsQuery
from web.validation import parse_query

bp = Blueprint("user_payments", __name__, url_prefix="/api/user")


@bp.get("/payments")
@login_required
@operation("Your payments", tags=("User", "Plans"), query=PaymentsQuery, responses={200: None})
def list_payments():
    query = parse_query(PaymentsQuery)
    rows, total = service.orders_for_user(g.user.id, query.page, query.limit)
    return ok(
        {
            "payments": [service.order_to_json(o) for o in rows],
            "total": total,
            "page": query.page,
            "limit": query.limit,
        }
    )
