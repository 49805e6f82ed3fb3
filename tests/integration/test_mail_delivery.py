"""Mail through the real processes: gunicorn (two workers) and a Celery worker, a real SMTP server
on loopback (aiosmtpd), the local Razorpay, nx-27017 and Redis.

- a `mail.send` task run twice (at once and again later) sends the mail once;
- the SMTP server down for a minute: the worker retries with backoff (shortened here) and the
  mail arrives once after the server is back;
- 100 webhooks and a verify for one payment: one receipt mail, and the payment event log says
  "applied" once and "duplicate" for the other 100;
- forgot-password answers the same, in the same time, for known and unknown addresses.
"""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from common.mail import outbox
from common.mail.models import Mail
from common.payments import plans
from common.payments.models import Order, PaymentEvent
from tests.fakes.razorpay import sign_payment, signed_webhook, webhook_event
from tests.support.accounts import confirm_address
from tests.support.stack import Stack

PASSWORD = "correct-horse-1"


@pytest.fixture(scope="module")
def stack_settings(base_settings, fake, mailserver, razorpay):
    return base_settings.with_overrides(
        openrouter_base_url=fake.base_url,
        smtp_host="127.0.0.1",
        smtp_port=mailserver.port,
        smtp_starttls=False,
        # The backoff shortened so that a minute's outage is many tries, not one.
        mail_retry_base_seconds=2.0,
        mail_retry_max_seconds=8.0,
        mail_max_attempts=40,
        # The oracle test sends 90 requests from one address.
        rate_limit_forgot_ip="10000/hour",
        rate_limit_forgot_email="10000/hour",
        razorpay_key_id=razorpay.key_id,
        razorpay_key_secret=razorpay.key_secret,
        razorpay_webhook_secret=razorpay.webhook_secret,
        razorpay_base_url=razorpay.base_url,
    )


@pytest.fixture(scope="module")
def stack(request, stack_settings):
    from config import use_settings

    use_settings(stack_settings)
    running = Stack(stack_settings, name="mail", web_workers=2).start()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def fresh(live, mailserver, razorpay):
    mailserver.reset()
    if not mailserver.running:
        mailserver.start()
    razorpay.reset()


def register(live, email: str) -> tuple[dict, dict]:
    res = requests.post(
        f"{live.base_url}/api/auth/register",
        json={"email": email, "password": PASSWORD, "name": "Mail Test"},
        timeout=30,
    )
    assert res.status_code == 201, res.text
    data = res.json()["data"]
    return data["user"], {"Authorization": f"Bearer {data['token']}"}


def test_a_mail_task_run_twice_sends_once(live, mailserver):
    key = outbox.queue(
        "test:twice",
        "signed_out_everywhere",
        "twice@example.com",
        {"name": "T", "email": "twice@example.com", "when": "now", "forgot_link": "x"},
    )
    first = [live.celery.send_task("mail.send", [key]) for _ in range(2)]
    outcomes = sorted(r.get(timeout=60) for r in first)
    again = live.celery.send_task("mail.send", [key]).get(timeout=60)
    assert (outcomes, again) == (["sent", "skipped"], "skipped")
    mailserver.wait_for("twice@example.com")
    time.sleep(1)
    assert len(mailserver.to("twice@example.com")) == 1


def test_sign_up_mail_reaches_the_smtp_server(live, mailserver):
    register(live, "welcome@example.com")
    message = mailserver.wait_for("welcome@example.com", "verify_email")
    assert message["Subject"] == "Confirm your email address for AI Pasta"


def test_smtp_down_for_a_minute_then_the_mail_arrives_once(live, mailserver):
    register(live, "outage@example.com")
    mailserver.wait_for("outage@example.com", "verify_email")
    mailserver.stop()
    res = requests.post(
        f"{live.base_url}/api/auth/forgot-password",
        json={"email": "outage@example.com"},
        timeout=30,
    )
    assert res.status_code == 202
    down_until = time.monotonic() + 60
    while time.monotonic() < down_until:
        time.sleep(5)
    mail = Mail.objects.get(kind="reset_password")
    assert mail.status in ("pending", "sending") and mail.attempts >= 5, mail.to_mongo()
    assert "ConnectionRefused" in (mail.lastError or "")
    mailserver.start()
    back = time.monotonic()
    message = mailserver.wait_for("outage@example.com", "reset_password", timeout=30)
    print(f"delivered {time.monotonic() - back:.1f} s after the server came back")
    assert message["Subject"] == "Reset your AI Pasta password"
    time.sleep(3)
    assert len(mailserver.to("outage@example.com", "reset_password")) == 1
    assert Mail.objects.get(kind="reset_password").status == "sent"


def test_100_webhooks_and_a_verify_for_one_payment_one_receipt_one_applied(
    live, mailserver, razorpay
):
    plans.seed_defaults()
    user, headers = register(live, "storm@example.com")
    confirm_address(user)
    res = requests.post(
        f"{live.base_url}/api/plans/tokens-50k/create-order", headers=headers, timeout=30
    )
    assert res.status_code == 201, res.text
    order_id = res.json()["data"]["orderId"]
    pay = razorpay.pay(order_id)
    event = webhook_event("payment.captured", payment=pay)
    deliveries = []
    for n in range(100):  # half of them the same event id, half new ids
        body, hdrs = signed_webhook(
            event, razorpay.webhook_secret, "evt_Storm0001" if n % 2 else None
        )
        deliveries.append(
            lambda b=body, h=hdrs: requests.post(
                f"{live.base_url}/api/plans/webhook", data=b, headers=h, timeout=60
            )
        )
    verify_body = {
        "razorpay_order_id": order_id,
        "razorpay_payment_id": pay["id"],
        "razorpay_signature": sign_payment(order_id, pay["id"], razorpay.key_secret),
    }
    deliveries.append(
        lambda: requests.post(
            f"{live.base_url}/api/plans/tokens-50k/verify-payment",
            json=verify_body,
            headers=headers,
            timeout=60,
        )
    )
    barrier = threading.Barrier(len(deliveries))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(deliveries)) as pool:
        answers = list(pool.map(run, deliveries))
    assert [a.status_code for a in answers] == [200] * 101, [
        a.text for a in answers if a.status_code != 200
    ]
    outcomes = [e.outcome for e in PaymentEvent.objects(razorpayPaymentId=pay["id"])]
    assert len(outcomes) == 101
    assert (outcomes.count("applied"), outcomes.count("duplicate")) == (1, 100), outcomes
    mailserver.wait_for("storm@example.com", "receipt")
    time.sleep(3)  # anything sent twice would have arrived
    assert len(mailserver.to("storm@example.com", "receipt")) == 1
    assert Mail.objects(kind="receipt").count() == 1
    assert Order.objects.get(razorpayOrderId=order_id).status == "paid"


def test_forgot_password_is_no_account_oracle(live, mailserver):
    register(live, "known@example.com")
    mailserver.wait_for("known@example.com", "verify_email")
    session = requests.Session()
    url = f"{live.base_url}/api/auth/forgot-password"

    def timed(email: str) -> tuple[float, requests.Response]:
        start = time.perf_counter()
        res = session.post(url, json={"email": email}, timeout=30)
        return time.perf_counter() - start, res

    for _ in range(5):  # warm both paths
        timed("known@example.com")
        timed("nobody@example.com")
    known, unknown = [], []
    for _ in range(40):
        t, a = timed("known@example.com")
        known.append(t)
        u, b = timed("nobody@example.com")
        unknown.append(u)
        assert (a.status_code, a.json()) == (b.status_code, b.json())
    mk, mu = statistics.median(known), statistics.median(unknown)
    print(f"forgot-password median: known {mk * 1000:.2f} ms, unknown {mu * 1000:.2f} ms")
    assert abs(mk - mu) <= 0.25 * max(mk, mu), (mk, mu)
