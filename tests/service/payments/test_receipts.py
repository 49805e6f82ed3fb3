"""Receipts and refund notices by mail, and the printable receipt, through the API with the
local Razorpay, a real SMTP server on loopback, nx-27017 and Redis: buying needs a confirmed
address; however many webhooks and verifies handle one payment, one receipt mail and one
"applied" in the payment event log."""

from __future__ import annotations

from common.mail import outbox
from common.mail.models import Mail
from common.payments import receipts
from common.payments.models import Order, PaymentEvent
from tests.fakes.razorpay import signed_webhook, webhook_event
from tests.fakes.smtp import html_of, text_of
from tests.support.http import auth


def deliver_all() -> list[str]:
    return [outbox.deliver(m.key).outcome for m in Mail.objects(status="pending")]


def test_buying_needs_a_confirmed_address(rzp, buyer):
    b = buyer(verified=False)
    res = b.create_order("tokens-50k")
    assert (res.status_code, res.get_json()["code"]) == (403, "EMAIL_NOT_VERIFIED")
    assert res.get_json()["details"]["action"] == "buy"
    assert Order.objects.count() == 0


def test_one_receipt_and_one_applied_however_many_deliveries(rzp, smtp, buyer, client):
    b = buyer(email="ann@example.com", name="Ann")
    data = b.order("pro-monthly")
    pay = rzp.pay(data["orderId"])
    event = webhook_event("payment.captured", payment=pay)
    outcomes = []
    for n in range(20):  # the same event id 10 times, then 10 new ids (Redis cannot help)
        body, headers = signed_webhook(event, rzp.webhook_secret, "evt_Same001" if n < 10 else None)
        outcomes.append(client.post("/api/plans/webhook", data=body, headers=headers))
    assert b.verify("pro-monthly", data["orderId"], pay["id"]).status_code == 200
    assert [r.get_json()["data"]["outcome"] for r in outcomes] == ["applied"] + ["duplicate"] * 19
    log = [(e.source, e.outcome) for e in PaymentEvent.objects(razorpayPaymentId=pay["id"])]
    assert sorted(log) == sorted(
        [("webhook", "applied")] + [("webhook", "duplicate")] * 19 + [("verify", "duplicate")]
    )
    assert Mail.objects(kind="receipt").count() == 1
    deliver_all()
    message = smtp.wait_for("ann@example.com", "receipt")
    order = Order.objects.get(razorpayOrderId=data["orderId"])
    assert message["Subject"] == f"Your AI Pasta receipt {receipts.receipt_number(order)}"
    text = text_of(message)
    for fact in (
        "Pro (plan)",
        "₹499.00",
        "GST (18 %)",
        "₹76.12",
        pay["id"],
        "500,000",
        "for 30 days",
    ):
        assert fact in text, fact
    assert f"http://localhost:5000/receipt/{order.id}" in text
    assert "₹499.00" in html_of(message)
    assert len(smtp.to("ann@example.com", "receipt")) == 1


def test_a_refund_mails_one_notice(rzp, smtp, buyer, deliver):
    b = buyer(email="ann@example.com")
    data = b.order("tokens-250k")
    pay = rzp.pay(data["orderId"])
    assert deliver("payment.captured", payment=pay).get_json()["data"]["outcome"] == "applied"
    refund = rzp.refund(pay["id"], 19_950)
    for _ in range(5):
        res = deliver("refund.processed", refund=refund, payment=rzp.payment(pay["id"]))
        assert res.status_code == 200
    assert Mail.objects(kind="refund").count() == 1
    deliver_all()
    notice = smtp.wait_for("ann@example.com", "refund")
    text = text_of(notice)
    assert "₹199.50" in text and refund["id"] in text and "125,000 purchased tokens" in text


def test_the_printable_receipt_is_the_mails_facts_and_only_the_owners(
    rzp, buyer, make_user, client
):
    b = buyer()
    data = b.order("tokens-50k")
    pay = rzp.pay(data["orderId"])
    assert b.verify("tokens-50k", data["orderId"], pay["id"]).status_code == 200
    order = Order.objects.get(razorpayOrderId=data["orderId"])
    res = client.get(f"/api/user/payments/{order.id}/receipt", headers=b.headers)
    assert res.status_code == 200, res.get_json()
    r = res.get_json()["data"]["receipt"]
    assert (r["number"], r["reference"], r["paymentId"], r["tokens"], r["amount"]) == (
        receipts.receipt_number(order),
        order.receipt,
        pay["id"],
        50_000,
        order.amount,
    )
    assert r["item"]["kind"] == "pack" and r["gst"]["percent"] == 18
    assert r["gst"]["included"] + r["gst"]["taxable"] == order.amount
    _, other = make_user()
    for headers, oid in ((auth(other), order.id), (b.headers, "not-an-id")):
        res = client.get(f"/api/user/payments/{oid}/receipt", headers=headers)
        assert res.status_code == 404
    unpaid = b.order("tokens-50k")
    unpaid_order = Order.objects.get(razorpayOrderId=unpaid["orderId"])
    assert (
        client.get(f"/api/user/payments/{unpaid_order.id}/receipt", headers=b.headers).status_code
        == 404
    )
