"""`POST /api/plans/webhook`: signatures, duplicates, ordering, failures, refunds, mismatches."""

from __future__ import annotations

from common.payments.models import Order, PaymentEvent
from common.wallet.models import LedgerEntry
from common.wallet.reconcile import reconcile
from tests.fakes.razorpay import signed_webhook, webhook_event


def _tokens(b) -> tuple[int, int, str]:
    doc = b.doc()
    return doc.tokens.balance, doc.tokens.purchasedTokens, doc.subscription.plan


def _order(data) -> Order:
    return Order.objects.get(razorpayOrderId=data["orderId"])


def test_captured_webhook_applies_the_purchase(buyer, rzp, deliver):
    b = buyer()
    data = b.order("pro-monthly")
    pay = rzp.pay(data["orderId"])
    res = deliver("payment.captured", payment=pay)
    assert res.status_code == 200 and res.get_json()["data"]["outcome"] == "applied"
    assert _tokens(b) == (510_000, 500_000, "pro")
    order = _order(data)
    assert order.status == "paid" and order.razorpayPaymentId == pay["id"]
    assert order.fulfilledAt is not None and order.paidAt is not None
    # verify-payment afterwards is the same purchase: 200, nothing more.
    again = b.verify("pro-monthly", data["orderId"], pay["id"])
    assert again.status_code == 200
    assert _tokens(b) == (510_000, 500_000, "pro")
    assert reconcile() == []


def test_bad_and_missing_webhook_signature(buyer, rzp, client):
    b = buyer()
    data = b.order("tokens-50k")
    pay = rzp.pay(data["orderId"])
    body, headers = signed_webhook(webhook_event("payment.captured", payment=pay), "wrong")
    res = client.post("/api/plans/webhook", data=body, headers=headers)
    assert res.status_code == 401 and res.get_json()["code"] == "UNAUTHORIZED"
    del headers["X-Razorpay-Signature"]
    res = client.post("/api/plans/webhook", data=body, headers=headers)
    assert res.status_code == 401
    # A correctly signed body, altered after signing (here: re-serialised with spaces).
    body, headers = signed_webhook(
        webhook_event("payment.captured", payment=pay), rzp.webhook_secret
    )
    tampered = body.replace(b'","', b'", "', 1)
    assert client.post("/api/plans/webhook", data=tampered, headers=headers).status_code == 401
    assert _tokens(b) == (10_000, 0, "free")
    assert _order(data).status == "created"


def test_webhook_secret_falls_back_to_the_key_secret(buyer, rzp, deliver, settings_override):
    settings_override(
        razorpay_key_id=rzp.key_id,
        razorpay_key_secret=rzp.key_secret,
        razorpay_webhook_secret="",
        razorpay_base_url=rzp.base_url,
    )
    b = buyer()
    data = b.order("tokens-50k")
    pay = rzp.pay(data["orderId"])
    assert deliver("payment.captured", payment=pay).status_code == 401
    res = deliver("payment.captured", secret=rzp.key_secret, payment=pay)
    assert res.status_code == 200 and _tokens(b)[1] == 50_000


def test_same_webhook_twenty_times_credits_once(buyer, rzp, client):
    b = buyer()
    data = b.order("pro-monthly")
    pay = rzp.pay(data["orderId"])
    event = webhook_event("payment.captured", payment=pay)
    body, headers = signed_webhook(event, rzp.webhook_secret, "evt_SameEvent000001")
    outcomes = [
        client.post("/api/plans/webhook", data=body, headers=headers).get_json()["data"]["outcome"]
        for _ in range(20)
    ]
    assert outcomes[0] == "applied" and set(outcomes[1:]) == {"duplicate"}
    # Redelivered under new event ids (the Redis marker cannot help): still once.
    for _ in range(5):
        body, headers = signed_webhook(event, rzp.webhook_secret)
        res = client.post("/api/plans/webhook", data=body, headers=headers)
        assert res.get_json()["data"]["outcome"] == "duplicate"
    order_paid = webhook_event("order.paid", payment=pay, order=rzp.order(data["orderId"]))
    body, headers = signed_webhook(order_paid, rzp.webhook_secret)
    assert client.post("/api/plans/webhook", data=body, headers=headers).status_code == 200
    assert _tokens(b) == (510_000, 500_000, "pro")
    assert LedgerEntry.objects(key=f"rzp-{pay['id']}").count() == 1
    assert len(b.doc().subscription.orders) == 1
    assert reconcile() == []


def test_failed_then_captured_still_applies(buyer, rzp, deliver):
    b = buyer()
    data = b.order("tokens-250k")
    failed = rzp.fail(data["orderId"])
    res = deliver("payment.failed", payment=failed)
    assert res.get_json()["data"]["outcome"] == "failed"
    order = _order(data)
    assert order.status == "failed" and order.failedPaymentId == failed["id"]
    assert "declined" in order.failureReason
    good = rzp.pay(data["orderId"])
    assert deliver("payment.captured", payment=good).get_json()["data"]["outcome"] == "applied"
    assert _order(data).status == "paid"
    assert _tokens(b) == (260_000, 250_000, "free")
    # A failure delivered late (out of order) does not undo the capture.
    late = deliver("payment.failed", payment=failed)
    assert late.status_code == 200 and late.get_json()["data"]["outcome"] == "ignored"
    assert _order(data).status == "paid"
    assert reconcile() == []


def test_failed_then_verify_payment_applies(buyer, rzp, deliver):
    b = buyer()
    data = b.order("tokens-50k")
    deliver("payment.failed", payment=rzp.fail(data["orderId"]))
    good = rzp.pay(data["orderId"])
    assert b.verify("tokens-50k", data["orderId"], good["id"]).status_code == 200
    assert _tokens(b)[1] == 50_000


def test_full_refund_takes_the_tokens_back(buyer, rzp, deliver):
    b = buyer()
    data = b.order("tokens-50k")
    pay = rzp.pay(data["orderId"])
    b.verify("tokens-50k", data["orderId"], pay["id"])
    refund = rzp.refund(pay["id"])
    for _ in range(3):  # redelivered: once
        res = deliver("refund.processed", refund=refund, payment=rzp.payment(pay["id"]))
        assert res.status_code == 200
    assert _tokens(b) == (10_000, 0, "free")
    order = _order(data)
    assert order.status == "refunded" and order.refundedAmount == 9_900
    assert order.refundedTokens == 50_000
    entry = LedgerEntry.objects.get(key=f"rzp-{refund['id']}")
    assert entry.kind == "debit" and entry.amount == -50_000
    assert reconcile() == []


def test_partial_refunds_take_back_the_share_rounded_down(buyer, rzp, deliver):
    b = buyer()
    data = b.order("tokens-50k")  # 9,900 paise for 50,000 tokens
    pay = rzp.pay(data["orderId"])
    deliver("payment.captured", payment=pay)
    first = rzp.refund(pay["id"], 3_300)
    deliver("refund.processed", refund=first, payment=rzp.payment(pay["id"]))
    order = _order(data)
    assert order.status == "partially_refunded" and order.refundedAmount == 3_300
    share = 3_300 * 50_000 // 9_900
    assert _tokens(b)[1] == 50_000 - share
    rest = rzp.refund(pay["id"])
    deliver("refund.processed", refund=rest, payment=rzp.payment(pay["id"]))
    order = _order(data)
    assert order.status == "refunded" and order.refundedAmount == 9_900
    assert _tokens(b)[1] == 50_000 - share - (6_600 * 50_000 // 9_900)
    assert reconcile() == []


def test_refund_never_takes_the_balance_below_zero(buyer, rzp, deliver):
    from common.wallet import service as wallet

    b = buyer()
    data = b.order("tokens-50k")
    pay = rzp.pay(data["orderId"])
    deliver("payment.captured", payment=pay)
    # The buyer spends most of what they bought (free tokens go first, then 45,000 purchased).
    wallet.debit(b.user["id"], 55_000, "spent-test", "test", pools=("free", "purchased"))
    assert _tokens(b)[:2] == (5_000, 5_000)
    refund = rzp.refund(pay["id"])
    deliver("refund.processed", refund=refund, payment=rzp.payment(pay["id"]))
    assert _tokens(b)[:2] == (0, 0)
    assert _order(data).refundedTokens == 5_000
    assert reconcile() == []


def test_refund_delivered_before_the_capture(buyer, rzp, deliver):
    b = buyer()
    data = b.order("tokens-50k")
    pay = rzp.pay(data["orderId"])
    refund = rzp.refund(pay["id"], 4_950)
    res = deliver("refund.processed", refund=refund, payment=rzp.payment(pay["id"]))
    assert res.get_json()["data"]["outcome"] == "refunded"
    assert _tokens(b)[1] == 25_000
    deliver("payment.captured", payment=pay)  # the capture, late: already applied
    assert _tokens(b)[1] == 25_000
    assert _order(data).status == "partially_refunded"
    assert reconcile() == []


def test_mismatched_amount_or_currency_is_rejected_and_logged(buyer, rzp, deliver):
    b = buyer()
    data = b.order("pro-monthly")
    cheap = rzp.pay(data["orderId"], amount=100)
    res = deliver("payment.captured", payment=cheap)
    assert res.status_code == 200 and res.get_json()["data"]["outcome"] == "rejected"
    dollars = rzp.pay(data["orderId"], currency="USD")
    res = deliver("order.paid", payment=dollars, order=rzp.order(data["orderId"]))
    assert res.status_code == 200 and res.get_json()["data"]["outcome"] == "rejected"
    assert _tokens(b) == (10_000, 0, "free")
    assert _order(data).status == "created"
    rejected = PaymentEvent.objects(source="webhook", outcome="rejected")
    assert {e.razorpayPaymentId for e in rejected} == {cheap["id"], dollars["id"]}
    assert all(e.userId is not None and e.reason for e in rejected)
    # The right payment still goes through afterwards.
    good = rzp.pay(data["orderId"])
    assert deliver("payment.captured", payment=good).get_json()["data"]["outcome"] == "applied"
    assert _tokens(b) == (510_000, 500_000, "pro")
    assert reconcile() == []


def test_ignored_events_are_answered_2xx(buyer, rzp, deliver, client):
    res = deliver("subscription.charged", payment=None)
    assert res.status_code == 200 and res.get_json()["data"]["outcome"] == "ignored"
    unknown = {"id": "pay_NoSuchPayment1", "order_id": "order_NoSuchOrder01", "amount": 100}
    res = deliver("payment.captured", payment=unknown | {"currency": "INR"})
    assert res.get_json()["data"]["outcome"] == "ignored"
    body = b"not json"
    from tests.fakes.razorpay import sign_webhook

    headers = {"X-Razorpay-Signature": sign_webhook(body, rzp.webhook_secret)}
    res = client.post("/api/plans/webhook", data=body, headers=headers)
    assert res.status_code == 200 and res.get_json()["data"]["outcome"] == "ignored"
    assert PaymentEvent.objects(outcome="ignored").count() == 3


def test_webhook_without_any_secret_is_refused(buyer, rzp, deliver, settings_override):
    settings_override(razorpay_key_secret="", razorpay_webhook_secret="")
    res = deliver("payment.captured", secret="", payment={"id": "pay_Anything00001"})
    assert res.status_code == 503 and res.get_json()["code"] == "SERVICE_UNAVAILABLE"


def test_order_paid_with_a_foreign_order_entity_is_rejected(buyer, rzp, deliver):
    b = buyer()
    mine, other = b.order("tokens-50k"), b.order("tokens-50k")
    pay = rzp.pay(mine["orderId"])
    res = deliver("order.paid", payment=pay, order=rzp.order(other["orderId"]))
    assert res.status_code == 200 and res.get_json()["data"]["outcome"] == "rejected"
    assert _tokens(b)[1] == 0


def test_authorized_marks_the_order_attempted(buyer, rzp, deliver):
    b = buyer()
    data = b.order("tokens-50k")
    pay = rzp.pay(data["orderId"], status="authorized")
    assert deliver("payment.authorized", payment=pay).get_json()["data"]["outcome"] == "attempted"
    assert _order(data).status == "attempted" and _tokens(b)[1] == 0
    captured = dict(pay, status="captured")
    assert deliver("payment.captured", payment=captured).get_json()["data"]["outcome"] == "applied"
    assert _order(data).status == "paid" and _tokens(b)[1] == 50_000
