"""`/api/user/payments`: the caller's orders and payments, newest first."""

from __future__ import annotations

from flask import Blueprint, g

from common.payments import receipts, service
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


@bp.get("/payments/<order_id>/receipt")
@login_required
@operation(
    "The receipt of one of your payments (the same as the receipt mail)",
    description="Plan or pack, amount in ₹ with the GST it includes (GST_PERCENT), payment id, "
    "date, tokens credited, refunds. 404 for an order that was not paid or is not yours.",
    tags=("User",),
    responses={200: None},
    errors=(401, 404),
)
def receipt(order_id: str):
    return ok({"receipt": receipts.receipt_for_user(order_id, g.user.id)})
