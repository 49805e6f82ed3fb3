"""`/api/plans`: the plans on sale, Razorpay orders, payment verification and the webhook."""

from __future__ import annotations

from flask import Blueprint, g, request

from common.payments import plans, receipts, service, webhooks
from common.payments.gateway import RazorpayGateway
from common.users.snapshot import snapshot
from web.extensions import limiter
from web.mail import deliver_soon
from web.plans.schemas import VerifyPaymentBody
from web.responses import ok
from web.security import login_required
from web.validation import parse_body

bp = Blueprint("plans", __name__, url_prefix="/api/plans")


@bp.get("")
@bp.get("/")
def list_plans():
    return ok({"plans": [plans.to_json(p) for p in plans.active_plans()]})


@bp.post("/<plan_id>/create-order")
@login_required
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
def verify_payment(plan_id: str):
    body = parse_body(VerifyPaymentBody)
    order = service.verify_payment(
        g.user,
        plan_id,
        body.razorpay_order_id,
        body.razorpay_payment_id,
        body.razorpay_signature,
    )
    deliver_soon(receipts.receipt_key(order.id))
    g.user.reload()
    return ok({"user": snapshot(g.user), "payment": service.order_to_json(order)})


@bp.post("/webhook")
@limiter.exempt
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
