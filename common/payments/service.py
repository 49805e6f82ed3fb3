"""Orders and payments: create, verify, apply exactly once, fail, refund, repair.

The exactly-once path (`apply_payment`), shared by verify-payment and the webhook:

1. **Claim.** One conditional update moves the order from `created`/`attempted`/`failed` to
   `paid` and stores the payment id (only if none is stored). Whoever loses the race finds the
   same payment id there and goes on to step 2 as well; a *different* payment id is a conflict.
2. **Credit.** `wallet.credit(..., key="rzp-<payment id>")`: once per payment, whoever runs it.
3. **Subscription.** `subscriptions.apply_purchase(order id)`: once per order, marked on the
   user document in the same update.
4. **Done.** The order records `tokensCredited`, `subscriptionApplied`, `fulfilledAt`.

A crash anywhere leaves the order `paid` without `fulfilledAt`; the next webhook retry, a
replayed verify, or the periodic `finish_stuck_orders` runs steps 2-4 again, and each of them
does only what is still missing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument

from common import metrics
from common.accounts import verification
from common.errors import Conflict, NotFound, ValidationError
from common.payments import receipts, subscriptions
from common.payments.gateway import RazorpayGateway
from common.payments.models import CAPTURED, CLAIMABLE, Order, PaymentEvent, Plan
from common.payments.plans import plan_limits
from common.stored import as_utc, iso_or_text, same_id, utcnow
from common.users.models import User
from common.wallet import service as wallet

log = logging.getLogger(__name__)

CREDIT_SOURCE = "razorpay"


@dataclass(frozen=True)
class PaymentFacts:
    """What Razorpay says about a payment (from a webhook or a fetch), for checking."""

    payment_id: str
    order_id: str | None = None
    amount: int | None = None
    currency: str | None = None
    status: str | None = None


class PaymentRejected(ValidationError):
    """The payment does not match its order (amount, currency or order id): nothing applied."""


def orders():
    return Order._get_collection()


def credit_key(payment_id: str) -> str:
    return f"rzp-{payment_id}"


def refund_key(refund_id: str) -> str:
    return f"rzp-{refund_id}"


# -- create -----------------------------------------------------------------------------------


def create_order(user: User, plan: Plan, gateway: RazorpayGateway | None = None) -> Order:
    """Create a Razorpay order for `plan` and store it as `created`. Always a new order.
    Buying needs a confirmed address (`EmailNotVerified`, 403)."""
    verification.require_verified(user, "buy")
    gateway = gateway or RazorpayGateway()
    oid = ObjectId()
    receipt = f"rcpt_{oid}"
    notes = {"userId": str(user.id), "planId": plan.id, "orderRef": str(oid)}
    remote = gateway.create_order(plan.price, plan.currency, receipt, notes)
    if int(remote.get("amount", -1)) != plan.price or remote.get("currency") != plan.currency:
        log.error("razorpay order %s does not match plan %s: %r", remote["id"], plan.id, remote)
        raise ValidationError("The payment provider returned a different amount; not ordered.")
    order = Order(
        id=oid,
        userId=user.id,
        planId=plan.id,
        plan=plan.plan,
        tokens=plan.tokens,
        amount=plan.price,
        currency=plan.currency,
        durationDays=plan.durationDays,
        limits=plan_limits(plan),
        unlocksPaidModels=plan.unlocksPaidModels,
        razorpayOrderId=remote["id"],
        receipt=receipt,
    )
    order.save(force_insert=True)
    return order


# -- verify -----------------------------------------------------------------------------------


def order_for_user(razorpay_order_id: str, user_id: Any) -> Order:
    """The caller's order; someone else's is reported as not found."""
    order = Order.objects(razorpayOrderId=razorpay_order_id).first()
    if order is None or str(order.userId) != str(user_id):
        raise NotFound("Order not found.")
    return order


@dataclass(frozen=True)
class CheckoutPayment:
    """What Razorpay Checkout handed the buyer's browser after paying for `plan_id`."""

    plan_id: str
    order_id: str
    payment_id: str
    signature: str


def verify_payment(
    user: User, paid: CheckoutPayment, gateway: RazorpayGateway | None = None
) -> Order:
    """Check Checkout's answer and apply the purchase (exactly once). Returns the order."""
    gateway = gateway or RazorpayGateway()
    order = order_for_user(paid.order_id, user.id)
    if order.planId != paid.plan_id:
        raise ValidationError(
            f"This order is for plan {order.planId}, not {paid.plan_id}.", {"field": "planId"}
        )
    payment_id = paid.payment_id
    if not gateway.payment_signature_ok(paid.order_id, payment_id, paid.signature):
        log.warning("bad payment signature for %s / %s", paid.order_id, payment_id)
        raise ValidationError(
            "The payment signature is not valid.", {"field": "razorpay_signature"}
        )
    if order.razorpayPaymentId != payment_id:
        _check_fetched_payment(order, payment_id, gateway)
    facts = PaymentFacts(payment_id)
    try:
        applied = apply_payment(order, facts)
    except (PaymentRejected, Conflict) as exc:
        outcome = "conflict" if isinstance(exc, Conflict) else "rejected"
        record("verify", outcome, exc.message, order, facts)
        raise
    record("verify", applied.outcome, "", applied.order, facts)
    return applied.order


def _check_fetched_payment(order: Order, payment_id: str, gateway: RazorpayGateway) -> None:
    """Defence in depth: where Razorpay can tell us the payment, it must match the order.

    The signature already binds the payment to this order (whose amount Razorpay fixed); if
    the payment cannot be fetched right now the signature decides alone.
    """
    remote = gateway.fetch_payment(payment_id)
    if remote is None:
        return
    amount = remote.get("amount")
    facts = PaymentFacts(
        payment_id,
        remote.get("order_id"),
        amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
        remote.get("currency"),
        remote.get("status"),
    )
    problem = mismatch(order, facts)
    if problem:
        record("verify", "rejected", problem, order=order, facts=facts)
        log.error("verify-payment rejected for %s: %s", order.razorpayOrderId, problem)
        raise PaymentRejected(f"The payment does not match the order: {problem}.")


def mismatch(order: Order, facts: PaymentFacts) -> str:
    """Why the payment cannot pay for this order, or '' when it can (unknown facts pass)."""
    if facts.order_id is not None and facts.order_id != order.razorpayOrderId:
        return f"payment is for order {facts.order_id}"
    if facts.amount is not None and facts.amount != order.amount:
        return f"amount {facts.amount} differs from the order's {order.amount}"
    if facts.currency is not None and facts.currency != order.currency:
        return f"currency {facts.currency} differs from the order's {order.currency}"
    if facts.status == "failed":
        return "the payment failed"
    return ""


# -- the exactly-once path --------------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    """The order after `apply_payment`, and whether this call was the one that completed its
    purchase (`first`): exactly one call per payment is, however many race or repeat."""

    order: Order
    first: bool

    @property
    def outcome(self) -> str:
        """What the payment event log records: `applied` once per payment, else `duplicate`."""
        return "applied" if self.first else "duplicate"


def apply_payment(order: Order, facts: PaymentFacts) -> Applied:
    """Claim `order` for the payment and apply its purchase; safe to repeat and to race.

    Raises `PaymentRejected` when the facts do not match the order (nothing applied) and
    `Conflict` when the order was already paid by a different payment.
    """
    problem = mismatch(order, facts)
    if problem:
        log.error("payment %s rejected for %s: %s", facts.payment_id, order.id, problem)
        raise PaymentRejected(f"The payment does not match the order: {problem}.")
    doc = _claim(order.id, facts.payment_id)
    if doc.get("razorpayPaymentId") != facts.payment_id:
        log.error(
            "order %s already paid by %s; payment %s needs a manual refund",
            order.id,
            doc.get("razorpayPaymentId"),
            facts.payment_id,
        )
        raise Conflict(
            "This order was already paid with a different payment.",
            {"orderId": order.razorpayOrderId},
        )
    return fulfil(doc)


def _claim(order_id: ObjectId, payment_id: str) -> dict:
    """Mark the order paid by `payment_id` unless some payment already claimed it."""
    claimed = orders().find_one_and_update(
        {"_id": order_id, "status": {"$in": list(CLAIMABLE)}, "razorpayPaymentId": None},
        {
            "$set": {"status": "paid", "razorpayPaymentId": payment_id},
            "$currentDate": {"paidAt": True, "updatedAt": True},
        },
        return_document=ReturnDocument.AFTER,
    )
    return claimed or orders().find_one({"_id": order_id})


def fulfil(doc: dict) -> Applied:
    """Steps 2-4 for an order already claimed: each does only what is still missing. The
    receipt mail is queued (once per order) before the order is marked done, so a crash in
    between queues it on the next run; the call whose update marks it done is `first`."""
    payment_id = doc["razorpayPaymentId"]
    if not doc.get("tokensCredited") and int(doc.get("tokens") or 0) > 0:
        wallet.credit(
            doc["userId"],
            int(doc["tokens"]),
            credit_key(payment_id),
            CREDIT_SOURCE,
            details={"orderId": doc["razorpayOrderId"], "planId": doc["planId"]},
        )
    _set_flags(doc["_id"], tokensCredited=True)
    if not doc.get("subscriptionApplied") and confers_subscription(doc):
        subscriptions.apply_purchase(
            doc["userId"], str(doc["_id"]), doc["plan"], doc["durationDays"], doc.get("limits")
        )
        _set_flags(doc["_id"], subscriptionApplied=True)
    if not doc.get("fulfilledAt"):
        receipts.queue_receipt(doc["_id"])
    done = orders().update_one(
        {"_id": doc["_id"], "fulfilledAt": None}, {"$currentDate": {"fulfilledAt": True}}
    )
    return Applied(Order.objects.get(id=doc["_id"]), bool(done.modified_count))


def confers_subscription(doc: dict) -> bool:
    return doc.get("plan") != "free" and int(doc.get("durationDays") or 0) > 0


def _set_flags(order_id: ObjectId, **flags: bool) -> None:
    orders().update_one({"_id": order_id}, {"$set": flags})


# -- failures, refunds ------------------------------------------------------------------------


def mark_attempted(order: Order) -> None:
    orders().update_one(
        {"_id": order.id, "status": "created"},
        {"$set": {"status": "attempted"}, "$currentDate": {"updatedAt": True}},
    )


def mark_failed(order: Order, payment_id: str, reason: str) -> bool:
    """Record a failed attempt. A paid order stays paid; a later capture still applies."""
    res = orders().update_one(
        {"_id": order.id, "status": {"$in": ["created", "attempted", "failed"]}},
        {
            "$set": {"status": "failed", "failedPaymentId": payment_id, "failureReason": reason},
            "$currentDate": {"updatedAt": True},
        },
    )
    return bool(res.modified_count)


def apply_refund(order: Order, refund_id: str, amount: int) -> int:
    """Take back the refunded share of the purchased tokens, once per refund id.

    The share is amount / order amount × tokens, rounded down, and never takes the purchased
    pool below zero (tokens already spent stay spent). Returns the tokens taken back.
    """
    if amount <= 0 or amount > order.amount:
        raise PaymentRejected(f"refund amount {amount} is outside 1..{order.amount}")
    share = amount * order.tokens // order.amount
    taken = 0
    if share > 0:
        details = {"orderId": order.razorpayOrderId, "refundId": refund_id, "amount": amount}
        taken = _debit_once(order.userId, share, refund_key(refund_id), details)
    entry = {"amount": amount, "tokens": taken, "at": utcnow()}
    receipts.queue_refund_notice(order.id, refund_id, amount, taken)
    orders().update_one(
        {"_id": order.id, f"refunds.{refund_id}": {"$exists": False}},
        {
            "$set": {f"refunds.{refund_id}": entry},
            "$inc": {"refundedAmount": amount, "refundedTokens": taken},
            "$currentDate": {"updatedAt": True},
        },
    )
    _settle_refund_status(order.id)
    return taken


def _debit_once(user_id: ObjectId, amount: int, key: str, details: dict) -> int:
    """`wallet.debit`, tolerant of a concurrent delivery of the same refund.

    When two deliveries race, the loser's `reserve` can find the key already settled by the
    winner and refuse; calling `debit` again then just reads the settled amount.
    """
    try:
        return wallet.debit(user_id, amount, key, CREDIT_SOURCE, details=details)
    except ValidationError:
        if wallet.entry(key) is None:
            raise
        return wallet.debit(user_id, amount, key, CREDIT_SOURCE, details=details)


def _settle_refund_status(order_id: ObjectId) -> None:
    doc = orders().find_one({"_id": order_id}, {"amount": 1, "refundedAmount": 1})
    status = "refunded" if doc["refundedAmount"] >= doc["amount"] else "partially_refunded"
    orders().update_one(
        {"_id": order_id, "status": {"$in": list(CAPTURED)}}, {"$set": {"status": status}}
    )


# -- repair, listing, log ---------------------------------------------------------------------


def finish_stuck_orders(older_than_seconds: float = 60.0, batch: int = 200) -> int:
    """Finish paid orders whose purchase was not fully applied (a crash between steps)."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    # The age is checked here, not in the query: nx-27017 compares a `$currentDate` value
    # wrongly with `$lt`. Unfulfilled paid orders are few (normally none), so this is cheap.
    query = {"status": {"$in": list(CAPTURED)}, "fulfilledAt": None}
    done = 0
    for doc in orders().find(query).limit(batch):
        paid_at = doc.get("paidAt")
        if not doc.get("razorpayPaymentId") or not isinstance(paid_at, datetime):
            continue
        if as_utc(paid_at) < cutoff:
            applied = fulfil(doc)
            if applied.first:
                facts = PaymentFacts(doc["razorpayPaymentId"], doc.get("razorpayOrderId"))
                record("repair", "applied", "finished by the repair job", applied.order, facts)
            done += 1
    return done


def order_to_json(order: Order) -> dict[str, Any]:
    """An order as the caller sees it (`payment` in verify-payment, rows of /api/user/payments)."""
    return {
        "id": str(order.id),
        "razorpayOrderId": order.razorpayOrderId,
        "razorpayPaymentId": order.razorpayPaymentId,
        "receipt": order.receipt,
        "receiptNumber": receipts.receipt_number(order),
        "planId": order.planId,
        "plan": order.plan,
        "tokens": order.tokens,
        "durationDays": order.durationDays,
        "amount": order.amount,
        "currency": order.currency,
        "status": order.status,
        "refundedAmount": order.refundedAmount,
        "refundedTokens": order.refundedTokens,
        "refunds": [
            {
                "id": rid,
                "amount": r.get("amount"),
                "tokens": r.get("tokens"),
                "at": iso_or_text(r.get("at")),
            }
            for rid, r in sorted((order.refunds or {}).items())
        ],
        "createdAt": iso_or_text(order.createdAt),
        "paidAt": iso_or_text(order.paidAt),
        "updatedAt": iso_or_text(order.updatedAt),
    }


def orders_for_user(user_id: Any, page: int, limit: int) -> tuple[list[Order], int]:
    """The user's orders, newest first, and how many there are.

    Written as `$in` and counted by reading ids: nx-27017 matches nothing for equality on an
    ObjectId field other than `_id`, and `count_documents` misses `$in` (both right on MongoDB).
    """
    match = {"userId": same_id(user_id)}
    total = sum(1 for _ in orders().find(match, {"_id": 1}))
    query = Order.objects(__raw__=match).order_by("-createdAt")
    return list(query.skip((page - 1) * limit).limit(limit)), total


def record(
    source: str,
    outcome: str,
    reason: str = "",
    order: Order | None = None,
    facts: PaymentFacts | None = None,
    **extra: Any,
) -> None:
    """Write one line of the payment event log (never raises: it must not block a payment)."""
    metrics.payment_event(source, outcome)
    try:
        PaymentEvent(
            source=source,
            outcome=outcome,
            reason=reason[:500],
            userId=order.userId if order else None,
            razorpayOrderId=order.razorpayOrderId if order else (facts and facts.order_id),
            razorpayPaymentId=facts.payment_id if facts else None,
            amount=facts.amount if facts else None,
            currency=facts.currency if facts else None,
            **extra,
        ).save()
    except Exception:
        log.exception("could not record payment event %s/%s", source, outcome)
