"""Payments fixtures: a local Razorpay, settings pointing at it, seeded plans, a buyer."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from common.payments import plans as plan_service
from common.users.models import User
from tests.fakes.razorpay import FakeRazorpay, sign_payment, signed_webhook, webhook_event
from tests.support.http import auth


@pytest.fixture(scope="session")
def razorpay_server():
    with FakeRazorpay() as server:
        yield server


@pytest.fixture
def rzp(razorpay_server, settings_override):
    """The fake Razorpay, empty, with the app's settings pointing at it."""
    razorpay_server.reset()
    settings_override(
        razorpay_key_id=razorpay_server.key_id,
        razorpay_key_secret=razorpay_server.key_secret,
        razorpay_webhook_secret=razorpay_server.webhook_secret,
        razorpay_base_url=razorpay_server.base_url,
    )
    plan_service.seed_defaults()
    return razorpay_server


@dataclass
class Buyer:
    """A signed-up user who buys through the API."""

    client: object
    rzp: FakeRazorpay
    user: dict
    token: str

    @property
    def headers(self) -> dict:
        return auth(self.token)

    def create_order(self, plan_id: str = "pro-monthly"):
        return self.client.post(f"/api/plans/{plan_id}/create-order", headers=self.headers)

    def order(self, plan_id: str = "pro-monthly") -> dict:
        res = self.create_order(plan_id)
        assert res.status_code == 201, res.get_json()
        return res.get_json()["data"]

    def verify(self, plan_id: str, order_id: str, payment_id: str, signature: str | None = None):
        body = {
            "razorpay_order_id": order_id,
            "razorpay_payment_id": payment_id,
            "razorpay_signature": signature
            or sign_payment(order_id, payment_id, self.rzp.key_secret),
        }
        return self.client.post(
            f"/api/plans/{plan_id}/verify-payment", json=body, headers=self.headers
        )

    def doc(self) -> User:
        return User.objects.get(id=self.user["id"])


@pytest.fixture
def buyer(client, rzp, make_user):
    def make(**kwargs) -> Buyer:
        user, token = make_user(**kwargs)
        return Buyer(client, rzp, user, token)

    return make


@pytest.fixture
def deliver(client, rzp):
    """POST one webhook delivery (signed with the webhook secret unless told otherwise)."""

    def send(event: str, secret: str | None = None, event_id: str | None = None, **entities):
        secret = rzp.webhook_secret if secret is None else secret
        body, headers = signed_webhook(webhook_event(event, **entities), secret, event_id)
        return client.post("/api/plans/webhook", data=body, headers=headers)

    return send
