"""Payments and webhooks are counted by source and outcome on `/metrics`."""

from __future__ import annotations

from prometheus_client import REGISTRY


def counted(source: str, outcome: str) -> float:
    labels = {"source": source, "outcome": outcome}
    return REGISTRY.get_sample_value("aipasta_payments_total", labels) or 0.0


def test_webhook_and_verify_outcomes_are_counted(buyer, rzp, deliver, client):
    b = buyer()
    data = b.order("tokens-50k")
    pay = rzp.pay(data["orderId"])
    before = {
        key: counted(*key)
        for key in (("webhook", "applied"), ("verify", "duplicate"), ("webhook", "ignored"))
    }
    assert deliver("payment.captured", payment=pay).get_json()["data"]["outcome"] == "applied"
    assert b.verify("tokens-50k", data["orderId"], pay["id"]).status_code == 200
    assert deliver("payment.dispute.created").status_code == 200  # an event we do not handle
    assert counted("webhook", "applied") == before[("webhook", "applied")] + 1
    # The webhook applied the payment; the verify that followed is its duplicate.
    assert counted("verify", "duplicate") == before[("verify", "duplicate")] + 1
    assert counted("webhook", "ignored") == before[("webhook", "ignored")] + 1
    text = client.get("/metrics").get_data(as_text=True)
    assert 'aipasta_payments_total{outcome="applied",source="webhook"}' in text
    assert pay["id"] not in text and data["orderId"] not in text
