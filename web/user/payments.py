"""`/api/user/payments`: the caller's orders and payments, newest first."""

from __future__ import annotations

from flask import Blueprint, g
from pydantic import BaseModel

from common.payments import service
from web.api_models import UserSnapshot
from web.openapi import operation
from web.responses import ok
from web.security import login_required
from web.user.schemas import PaymentsQuery
from web.validation import parse_query

bp = Blueprint("user_payments", __name__, url_prefix="/api/user")


@bp.get("/payments")
@login_required
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


class PaymentData(BaseModel):
    """One payment as the payment history lists it (`receiptNumber` is what a receipt shows)."""

    payment: dict
    user: UserSnapshot | None = None


@bp.get("/payments/<order_id>")
@login_required
@operation(
    "One of your payments, for its printable receipt",
    tags=("User",),
    responses={200: PaymentData},
    errors=(401, 404),
    description="The order as `GET /api/user/payments` lists it, with its `receiptNumber`. "
    "Another user's order is 404.",
)
def get_payment(order_id: str):
    order = service.payment_of(g.user.id, order_id)
    return ok({"payment": service.order_to_json(order), "user": g.user_snapshot()})
