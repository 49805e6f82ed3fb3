"""`/api/plans`: the plans on sale, Razorpay orders, payment verification and the webhook."""

from __future__ import annotations

from flask import Blueprint, g, request

from common.payments import plans, receipts, service, webhooks
from common.payments.gateway import RazorpayGateway
from common.users.snapshot import snapshot
from web import api_models as out
from web.extensions import limiter
from web.mail import deliver_soon
from web.openapi import WEBHOOK, operation
from web.plans.schemas import VerifyPaymentBody
from web.responses import ok
from web.security import login_required
from web.validation import parse_body

bp = Blueprint("plans", __name__, url_prefix="/api/plans")
TAGS = ("Plans",)


@bp.get("")
@operation("The plans on sale", tags=TAGS, auth=None, responses={200: out.PlanList})
def list_plans():
    return ok({"plans": [plans.to_json(p) for p in plans.active_plans()]})


@bp.post("/<plan_id>/create-order")
@login_required
@operation(
    "Start buying a plan (a Razorpay order; needs a confirmed address)",
    tags=TAGS,
    responses={201: None},
    errors=(400, 403),
    description="400 when Razorpay answered an order of another amount (nothing is ordered); "
    "403 `EMAIL_NOT_VERIFIED` until the account's address is confirmed; "
    "404 for a plan not on sale; 503 when payments are not configured or Razorpay cannot be "
    "reached.",
)
def create_order(plan_id: str):
    plan = plans.get_active(plan_id)
    gateway = RazorpayGateway()
    order = service.create_order(g.user, plan, gateway)
    data = {
        "orderId": order.razorpayOrderId,
        "amount": order.amount,
        "currency": order.currency,
        "keyId": gateway.key_id,
        "receipt": order.receipt,
        "plan": plans.to_json(plan),
        "prefill": {"name": g.user.name, "email": g.user.email},
    }
    return ok(data, 201)


@bp.post("/<plan_id>/verify-payment")
@login_required
@operation(
    "Confirm a Razorpay payment",
    tags=TAGS,
    body=VerifyPaymentBody,
    responses={200: None},
    errors=(409,),
    description="400 for a bad signature, an order of another plan or a payment that does not "
    "match the order; 404 for an order that is not yours; 409 for a payment already applied to "
    "another order.",
)
def verify_payment(plan_id: str):
    order = service.verify_payment(g.user, parse_body(VerifyPaymentBody).command(plan_id))
    deliver_soon(receipts.receipt_key(order.id))
    g.user.reload()
    return ok({"user": snapshot(g.user), "payment": service.order_to_json(order)})


@bp.post("/webhook")
@limiter.exempt
@operation(
    "Razorpay's webhook (signed with the webhook secret)",
    tags=TAGS,
    auth=WEBHOOK,
    responses={200: None},
    errors=(413,),
    description="401 for a missing or wrong `X-Razorpay-Signature`; 413 for a body over "
    "`MAX_BODY_BYTES`; 503 when webhooks are not configured. Every verified delivery is 200, "
    "with what was done in `data.outcome`.",
)
def webhook():
    result = webhooks.handle(
        request.get_data(cache=True),
        request.headers.get("X-Razorpay-Signature"),
        request.headers.get("X-Razorpay-Event-Id"),
    )
    if result.outcome == "applied":
        deliver_soon(receipts.receipt_key(result.order.id))
    elif result.outcome == "refunded" and result.refund_id:
        deliver_soon(receipts.refund_key(result.refund_id))
    return ok({"outcome": result.outcome, "reason": result.reason})
