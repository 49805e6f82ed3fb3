"""Races through the real app: gunicorn with several worker processes, the local Razorpay,
nx-27017 and Redis. verify-payment and webhooks for the same payment fire at once from threads
(landing in different processes); the purchase must be applied exactly once.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests

from common.payments import plans
from common.payments.models import Order
from common.users import service as users
from common.users.models import User
from common.wallet.models import LedgerEntry
from common.wallet.reconcile import reconcile
from tests.fakes.razorpay import sign_payment, signed_webhook, webhook_event
from tests.support.services import VENV_BIN, Proc, free_port, wait_http
from tests.support.stack import settings_env

WORKERS = 4


@pytest.fixture(scope="module")
def web(base_settings, razorpay):
    """The app under gunicorn with several sync worker processes; yields its base URL."""
    port = free_port()
    env = settings_env(
        base_settings,
        RAZORPAY_KEY_ID=razorpay.key_id,
        RAZORPAY_KEY_SECRET=razorpay.key_secret,
        RAZORPAY_WEBHOOK_SECRET=razorpay.webhook_secret,
        RAZORPAY_BASE_URL=razorpay.base_url,
        # Below the webhook deliveries each test makes from one address: proves the exemption.
        RATE_LIMIT_API="25/minute",
    )
    cmd = [str(VENV_BIN / "gunicorn"), "-w", str(WORKERS), "-b", f"127.0.0.1:{port}"]
    cmd += ["--timeout", "60", "--graceful-timeout", "2", "wsgi:app"]
    proc = Proc("payments-web", cmd, env)
    try:
        wait_http(f"http://127.0.0.1:{port}/api/plans", timeout=90, proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stop()


@pytest.fixture
def buyer(web, razorpay):
    """A registered user with a confirmed address (through the served app) and the default
    plans."""
    razorpay.reset()
    plans.seed_defaults()
    res = requests.post(
        f"{web}/api/auth/register",
        json={"email": "racer@example.com", "password": "correct-horse-1", "name": "Racer"},
        timeout=30,
    )
    assert res.status_code == 201, res.text
    data = res.json()["data"]
    users.mark_email_verified(data["user"]["id"], data["user"]["email"])  # buying needs it
    return data["user"], {"Authorization": f"Bearer {data['token']}"}


def _order(web, headers, plan_id: str) -> str:
    res = requests.post(f"{web}/api/plans/{plan_id}/create-order", headers=headers, timeout=30)
    assert res.status_code == 201, res.text
    return res.json()["data"]["orderId"]


def _webhook(web, razorpay, event: dict, event_id: str | None = None):
    body, headers = signed_webhook(event, razorpay.webhook_secret, event_id)
    return lambda: requests.post(f"{web}/api/plans/webhook", data=body, headers=headers, timeout=60)


def _verify(web, headers, plan_id: str, order_id: str, payment_id: str, secret: str):
    body = {
        "razorpay_order_id": order_id,
        "razorpay_payment_id": payment_id,
        "razorpay_signature": sign_payment(order_id, payment_id, secret),
    }
    url = f"{web}/api/plans/{plan_id}/verify-payment"
    return lambda: requests.post(url, json=body, headers=headers, timeout=60)


def _race(calls) -> list[requests.Response]:
    """Run every call at the same moment from its own thread."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_verify_and_webhooks_racing_credit_once(web, razorpay, buyer):
    user, headers = buyer
    rounds = 5
    for _ in range(rounds):
        order_id = _order(web, headers, "pro-monthly")
        pay = razorpay.pay(order_id)
        verify = _verify(web, headers, "pro-monthly", order_id, pay["id"], razorpay.key_secret)
        captured = webhook_event("payment.captured", payment=pay)
        paid = webhook_event("order.paid", payment=pay, order=razorpay.order(order_id))
        hooks = [_webhook(web, razorpay, event) for event in (captured, captured, paid, paid)]
        answers = _race([verify, verify, *hooks])
        assert [r.status_code for r in answers] == [200] * 6, [r.text for r in answers]
        snapshots = [r.json()["data"]["user"] for r in answers[:2]]
        assert all(s["subscription"]["plan"] == "pro" for s in snapshots)
        assert LedgerEntry.objects(key=f"rzp-{pay['id']}").count() == 1

    doc = User.objects.get(id=user["id"])
    assert doc.tokens.purchasedTokens == rounds * 500_000
    assert doc.tokens.balance == 10_000 + rounds * 500_000
    assert len(doc.subscription.orders) == rounds
    expires = doc.subscription.expiresAt.replace(tzinfo=UTC)
    wanted = datetime.now(UTC) + timedelta(days=30 * rounds)
    assert abs(expires - wanted) < timedelta(minutes=5)
    assert {o.status for o in Order.objects} == {"paid"}
    assert reconcile() == []


def test_same_webhook_twenty_times_at_once_credits_once(web, razorpay, buyer):
    user, headers = buyer
    order_id = _order(web, headers, "tokens-250k")
    pay = razorpay.pay(order_id)
    delivery = _webhook(
        web, razorpay, webhook_event("payment.captured", payment=pay), "evt_Twenty0000001"
    )
    answers = _race([delivery] * 20)
    assert [r.status_code for r in answers] == [200] * 20
    outcomes = [r.json()["data"]["outcome"] for r in answers]
    assert set(outcomes) <= {"applied", "already_applied", "duplicate"}
    doc = User.objects.get(id=user["id"])
    assert doc.tokens.purchasedTokens == 250_000 and doc.subscription.plan == "free"

    refund = razorpay.refund(pay["id"], 19_950)  # half of 39,900 paise
    event = webhook_event("refund.processed", refund=refund, payment=razorpay.payment(pay["id"]))
    answers = _race([_webhook(web, razorpay, event) for _ in range(10)])
    assert [r.status_code for r in answers] == [200] * 10
    doc = User.objects.get(id=user["id"])
    assert doc.tokens.purchasedTokens == 125_000
    order = Order.objects.get(razorpayOrderId=order_id)
    assert order.status == "partially_refunded" and order.refundedAmount == 19_950
    assert reconcile() == []
