"""Receipts: what a captured payment bought, by mail and as a printable page.

`receipt(order)` is the one description of a payment both use: the item (a plan or a token
pack), the amount in rupees with the GST it includes (`GST_PERCENT`; prices include GST), the
Razorpay payment id, the date, the tokens credited, and the refunds. The receipt mail is queued
by the purchase's fulfilment (`service.fulfil`) under `receipt:<order id>` and a refund notice
under `refund:<refund id>`: however many webhooks and verifies handle one payment, one mail.
"""

from __future__ import annotations

from typing import Any

from common.errors import NotFound
from common.mail import outbox
from common.mail.render import link
from common.payments.models import Order, Plan
from common.stored import as_utc, iso, object_id_or_none, utcnow
from common.users.models import User
from config import get_settings


def inr(paise: int, currency: str = "INR") -> str:
    """₹1,23,456.78 (Indian digit grouping), or "12.34 USD" for another currency."""
    rupees, rest = divmod(abs(int(paise)), 100)
    digits = str(rupees)
    head, tail = digits[:-3], digits[-3:]
    groups = []
    while len(head) > 2:
        head, groups = head[:-2], [head[-2:], *groups]
    text = ",".join([g for g in [head, *groups] if g] + [tail])
    sign = "-" if paise < 0 else ""
    if currency == "INR":
        return f"{sign}₹{text}.{rest:02d}"
    return f"{sign}{text}.{rest:02d} {currency}"


def gst_share(amount: int, percent: float) -> tuple[int, int]:
    """(GST, taxable value) in paise of a price that includes `percent` % GST."""
    taxable = round(amount * 100 / (100 + percent))
    return amount - taxable, taxable


def _date_text(value: Any) -> str:
    dt = as_utc(value)
    return f"{dt.day} {dt:%b %Y, %H:%M} UTC" if dt else ""


def receipt(order: Order, user: User | None = None) -> dict[str, Any]:
    settings = get_settings()
    user = user or User.objects(id=order.userId).first()
    plan = Plan.objects(id=order.planId).first()
    pack = not (order.plan != "free" and (order.durationDays or 0) > 0)
    gst = None
    if settings.gst_percent > 0:
        included, taxable = gst_share(order.amount, settings.gst_percent)
        gst = {
            "percent": settings.gst_percent,
            "percentText": f"{settings.gst_percent:g}",
            "included": included,
            "taxable": taxable,
        }
    refunds = [
        {
            "id": rid,
            "amount": int(r.get("amount") or 0),
            "tokens": int(r.get("tokens") or 0),
            "at": iso(r.get("at")),
        }
        for rid, r in sorted((order.refunds or {}).items())
    ]
    return {
        "number": receipt_number(order),
        "reference": order.receipt,
        "orderId": str(order.id),
        "razorpayOrderId": order.razorpayOrderId,
        "paymentId": order.razorpayPaymentId,
        "status": order.status,
        "paidAt": iso(order.paidAt),
        "paidOn": _date_text(order.paidAt),
        "item": {
            "planId": order.planId,
            "name": plan.name if plan else order.planId,
            "kind": "pack" if pack else "plan",
            "kindText": "token pack" if pack else "plan",
            "plan": order.plan,
            "durationDays": 0 if pack else order.durationDays,
        },
        "tokens": order.tokens,
        "amount": order.amount,
        "currency": order.currency,
        "gst": gst,
        "refunds": refunds,
        "refundedAmount": order.refundedAmount or 0,
        "customer": {"name": user.name if user else "", "email": user.email if user else ""},
        "seller": {"name": settings.app_title, "gstin": settings.gstin or None},
        "url": link(f"/receipt/{order.id}"),
        "text": {
            "amount": inr(order.amount, order.currency),
            "gst": inr(gst["included"], order.currency) if gst else "",
            "taxable": inr(gst["taxable"], order.currency) if gst else "",
            "tokens": f"{order.tokens:,}",
        },
    }


def receipt_number(order: Order) -> str:
    """The number a person reads on a receipt: "AP-" + the order's UTC day + the last six hex
    digits of its id ("AP-20261129-4F2A9C"). Derived, so every order has one and it never
    changes; unique in practice (the id's counter part, within one day). The Razorpay receipt
    id (`rcpt_<id>`) stays the order's `reference`."""
    day = as_utc(order.createdAt).strftime("%Y%m%d") if order.createdAt else "00000000"
    return f"AP-{day}-{str(order.id)[-6:].upper()}"


def receipt_for_user(order_id: str, user_id: Any) -> dict[str, Any]:
    """The user's own receipt of a captured payment; anything else is not found."""
    oid = object_id_or_none(order_id)
    order = Order.objects(id=oid).first() if oid else None
    if order is None or str(order.userId) != str(user_id) or not order.razorpayPaymentId:
        raise NotFound("Receipt not found.")
    return receipt(order)


def receipt_key(order_id: Any) -> str:
    return f"receipt:{order_id}"


def refund_key(refund_id: str) -> str:
    return f"refund:{refund_id}"


def queue_receipt(order_id: Any) -> str | None:
    """Queue the receipt mail of a captured payment (once per order, whoever calls)."""
    order = Order.objects(id=order_id).first()
    user = User.objects(id=order.userId).first() if order else None
    if order is None or user is None or not user.isActive:
        return None
    r = receipt(order, user)
    return outbox.queue(receipt_key(order.id), "receipt", user.email, {"r": r}, user.id)


def queue_refund_notice(order_id: Any, refund_id: str, amount: int, tokens: int) -> str | None:
    order = Order.objects(id=order_id).first()
    user = User.objects(id=order.userId).first() if order else None
    if order is None or user is None or not user.isActive:
        return None
    refund = {
        "id": refund_id,
        "amountText": inr(amount, order.currency),
        "tokens": tokens,
        "tokensText": f"{tokens:,}",
        "on": _date_text(utcnow()),
    }
    context = {"r": receipt(order, user), "refund": refund}
    return outbox.queue(refund_key(refund_id), "refund", user.email, context, user.id)
