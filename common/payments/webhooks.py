"""Razorpay webhooks: verify, de-duplicate, dispatch, log.

Correctness never depends on the de-duplication: every handler is idempotent through the
order's conditional updates and the wallet's keys (payment id, refund id), so a delivery seen
twice, out of order, or racing verify-payment changes nothing the second time. The Redis
marker (`x-razorpay-event-id`, set only after an event was handled) just skips repeat work.
The event log says `applied` for the one delivery (or verify) that completed a payment and
`duplicate` for every other, so the log tells the truth under a storm.

Every verified event is answered 2xx, including ignored and rejected ones (Razorpay would only
retry them); a missing or bad signature is 401 (the signature is the sender's credential), and
an unexpected failure is 5xx so Razorpay retries.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from common.errors import Conflict, Unauthorized
from common.payments import service
from common.payments.gateway import PaymentsUnavailable, RazorpayGateway
from common.payments.models import Order
from common.payments.service import PaymentFacts, PaymentRejected
from common.redis_client import get_redis

log = logging.getLogger(__name__)

SEEN_PREFIX = "aipasta:rzp:event:"
SEEN_TTL = 3 * 24 * 3600  # Razorpay retries a delivery for up to 24 hours
_PAYMENT_ID = re.compile(r"^pay_[A-Za-z0-9_-]{1,60}$")
_REFUND_ID = re.compile(r"^rfnd_[A-Za-z0-9_-]{1,60}$")
_EVENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


@dataclass(frozen=True)
class Outcome:
    # applied (once per payment), duplicate (the payment was applied by another delivery or the
    # verify), attempted, failed, refunded, ignored, rejected, conflict
    outcome: str
    reason: str = ""
    order: Order | None = None
    facts: PaymentFacts | None = None
    refund_id: str | None = None


def handle(body: bytes, signature: str | None, event_id: str | None) -> Outcome:
    """Verify and handle one delivery. Raises `Unauthorized` (401) for a missing or bad
    signature."""
    gateway = RazorpayGateway()
    if not gateway.settings.webhook_secret:
        raise PaymentsUnavailable("Razorpay webhooks are not configured on this server.")
    if not signature:
        raise Unauthorized("Missing X-Razorpay-Signature header.", {"field": "signature"})
    if not gateway.webhook_signature_ok(body, signature):
        log.warning("webhook with a bad signature (event %s)", event_id)
        raise Unauthorized("The webhook signature is not valid.", {"field": "signature"})
    event_id = event_id if event_id and _EVENT_ID.match(event_id) else None
    event = _parse(body)
    name = str(event.get("event", "")) if event else ""
    if _seen(event_id):
        result = Outcome("duplicate", "event id handled before", facts=_payment_facts(event or {}))
        _record(result, name, event_id)
        return result
    result = _dispatch(name, event) if event else Outcome("ignored", "body is not a JSON event")
    _record(result, name, event_id)
    _mark_seen(event_id)
    return result


def _dispatch(name: str, event: dict) -> Outcome:
    handler = HANDLERS.get(name)
    if handler is None:
        return Outcome("ignored", f"event {name or '?'} is not handled")
    try:
        return handler(event)
    except PaymentRejected as exc:
        return Outcome("rejected", exc.message)
    except Conflict as exc:
        return Outcome("conflict", exc.message)


# -- handlers ---------------------------------------------------------------------------------


def on_captured(event: dict) -> Outcome:
    """`payment.captured` and `order.paid`: the same exactly-once path as verify-payment."""
    facts = _payment_facts(event)
    if facts is None:
        return Outcome("ignored", "no usable payment entity")
    order_entity = _entity(event, "order")
    if order_entity and order_entity.get("id") not in (None, facts.order_id):
        return Outcome("rejected", "payment and order entities disagree", facts=facts)
    order = Order.objects(razorpayOrderId=facts.order_id).first() if facts.order_id else None
    if order is None:
        return Outcome("ignored", "unknown order", facts=facts)
    try:
        applied = service.apply_payment(order, facts)
    except PaymentRejected as exc:
        return Outcome("rejected", exc.message, order, facts)
    except Conflict as exc:
        return Outcome("conflict", exc.message, order, facts)
    return Outcome(applied.outcome, order=applied.order, facts=facts)


def on_authorized(event: dict) -> Outcome:
    facts = _payment_facts(event)
    order = _order_for(facts)
    if order is None:
        return Outcome("ignored", "unknown order", facts=facts)
    service.mark_attempted(order)
    return Outcome("attempted", order=order, facts=facts)


def on_failed(event: dict) -> Outcome:
    """`payment.failed`: the order is failed unless already paid; a later capture still applies."""
    facts = _payment_facts(event)
    order = _order_for(facts)
    if order is None:
        return Outcome("ignored", "unknown order", facts=facts)
    payment = _entity(event, "payment") or {}
    reason = str(payment.get("error_description") or payment.get("error_code") or "failed")
    if service.mark_failed(order, facts.payment_id, reason[:300]):
        return Outcome("failed", reason, order, facts)
    return Outcome("ignored", f"order is already {order.status}", order, facts)


def on_refund(event: dict) -> Outcome:
    """`refund.processed`: take back the refunded share of the purchased tokens, once."""
    refund = _entity(event, "refund") or {}
    refund_id, amount = refund.get("id"), refund.get("amount")
    payment_id = refund.get("payment_id")
    if not (_ok_id(_REFUND_ID, refund_id) and _ok_id(_PAYMENT_ID, payment_id)):
        return Outcome("ignored", "no usable refund entity")
    if not isinstance(amount, int) or isinstance(amount, bool):
        return Outcome("ignored", "refund amount is not an integer", refund_id=refund_id)
    facts = _payment_facts(event) or PaymentFacts(payment_id)
    order = Order.objects(razorpayPaymentId=payment_id).first() or _order_for(facts)
    if order is None:
        return Outcome("ignored", "refund for an unknown payment", facts=facts, refund_id=refund_id)
    if refund.get("currency") not in (None, order.currency):
        return Outcome("rejected", "refund currency differs", order, facts, refund_id)
    if order.razorpayPaymentId in (None, payment_id):
        # The refunded payment was captured: make sure its purchase is applied (it may have
        # been delivered first, or a crash left it half done) before taking the share back.
        order = service.apply_payment(order, facts).order
    if order.razorpayPaymentId != payment_id:
        return Outcome("ignored", "refund of a payment that paid nothing", order, facts, refund_id)
    taken = service.apply_refund(order, refund_id, amount)
    return Outcome("refunded", f"{taken} tokens taken back", order, facts, refund_id)


HANDLERS: dict[str, Callable[[dict], Outcome]] = {
    "payment.captured": on_captured,
    "order.paid": on_captured,
    "payment.authorized": on_authorized,
    "payment.failed": on_failed,
    "refund.processed": on_refund,
}


# -- helpers ----------------------------------------------------------------------------------


def _parse(body: bytes) -> dict | None:
    try:
        event = json.loads(body)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def _entity(event: dict, name: str) -> dict | None:
    payload = event.get("payload")
    wrapper = payload.get(name) if isinstance(payload, dict) else None
    entity = wrapper.get("entity") if isinstance(wrapper, dict) else None
    return entity if isinstance(entity, dict) else None


def _ok_id(pattern: re.Pattern, value: Any) -> bool:
    return isinstance(value, str) and bool(pattern.match(value))


def _payment_facts(event: dict) -> PaymentFacts | None:
    payment = _entity(event, "payment")
    if not payment or not _ok_id(_PAYMENT_ID, payment.get("id")):
        return None
    amount = payment.get("amount")
    return PaymentFacts(
        payment_id=payment["id"],
        order_id=payment.get("order_id") if isinstance(payment.get("order_id"), str) else None,
        amount=amount if isinstance(amount, int) and not isinstance(amount, bool) else -1,
        currency=str(payment.get("currency")),
        status=str(payment.get("status")),
    )


def _order_for(facts: PaymentFacts | None) -> Order | None:
    if facts is None or not facts.order_id:
        return None
    return Order.objects(razorpayOrderId=facts.order_id).first()


def _seen(event_id: str | None) -> bool:
    if not event_id:
        return False
    try:
        return get_redis().get(SEEN_PREFIX + event_id) is not None
    except RedisError:
        return False  # the marker is an optimisation; handling again is safe


def _mark_seen(event_id: str | None) -> None:
    if not event_id:
        return
    try:
        get_redis().set(SEEN_PREFIX + event_id, "1", ex=SEEN_TTL, nx=True)
    except RedisError:
        log.warning("could not mark webhook event %s as seen", event_id)


def _record(result: Outcome, name: str, event_id: str | None) -> None:
    level = logging.WARNING if result.outcome in ("rejected", "conflict") else logging.INFO
    log.log(level, "webhook %s %s: %s %s", name, event_id, result.outcome, result.reason)
    service.record(
        "webhook",
        result.outcome,
        result.reason,
        result.order,
        result.facts,
        event=name[:64],
        eventId=event_id,
        refundId=result.refund_id,
    )
