"""Razorpay through its official SDK: create orders, fetch payments, check signatures.

The SDK's `base_url` is the host part (`https://api.razorpay.com`); it adds `/v1/...` itself.
`RAZORPAY_BASE_URL` is documented with `/v1` (as Razorpay writes it), so a trailing `/v1` is
dropped here; either form works.
"""

from __future__ import annotations

import logging
from typing import Any

import razorpay
from razorpay.errors import SignatureVerificationError

from common.errors import ServiceUnavailable
from config import Settings, get_settings

log = logging.getLogger(__name__)

TIMEOUT = (5, 20)  # connect, read (seconds)


class PaymentsUnavailable(ServiceUnavailable):
    message = "Payments are unavailable right now. Please try again in a few minutes."


def sdk_base_url(configured: str) -> str:
    url = configured.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


class RazorpayGateway:
    """The one client class for Razorpay; tests point `RAZORPAY_BASE_URL` at a local server."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.key_id = self.settings.razorpay_key_id
        self.client = razorpay.Client(
            auth=(self.key_id, self.settings.razorpay_key_secret),
            base_url=sdk_base_url(self.settings.razorpay_base_url),
        )

    @property
    def configured(self) -> bool:
        return bool(self.settings.razorpay_key_id and self.settings.razorpay_key_secret)

    def create_order(self, amount: int, currency: str, receipt: str, notes: dict) -> dict:
        """Create the order at Razorpay; any failure is 503 (the user can simply retry)."""
        if not self.configured:
            raise PaymentsUnavailable("Payments are not configured on this server.")
        data = {"amount": amount, "currency": currency, "receipt": receipt, "notes": notes}
        try:
            order = self.client.order.create(data, timeout=TIMEOUT)
        except Exception as exc:  # the SDK raises its own errors, requests' and JSON's
            log.error("razorpay order create failed: %s: %s", type(exc).__name__, exc)
            raise PaymentsUnavailable() from exc
        if not isinstance(order, dict) or not str(order.get("id", "")).startswith("order_"):
            log.error("razorpay answered an order without an id: %r", order)
            raise PaymentsUnavailable()
        return order

    def fetch_payment(self, payment_id: str) -> dict | None:
        """The payment as Razorpay knows it, or None when it cannot be fetched right now."""
        try:
            payment = self.client.payment.fetch(payment_id, timeout=TIMEOUT)
        except Exception as exc:
            log.warning("razorpay payment fetch %s failed: %s", payment_id, exc)
            return None
        return payment if isinstance(payment, dict) and payment.get("id") == payment_id else None

    def payment_signature_ok(self, order_id: str, payment_id: str, signature: str) -> bool:
        """Checkout's signature: HMAC-SHA256(order_id|payment_id) with the key secret."""
        if not self.settings.razorpay_key_secret:
            return False
        params = {
            "razorpay_order_id": order_id,
            "razorpay_payment_id": payment_id,
            "razorpay_signature": signature,
        }
        return _verified(lambda: self.client.utility.verify_payment_signature(params))

    def webhook_signature_ok(self, body: bytes, signature: str) -> bool:
        """`X-Razorpay-Signature`: HMAC-SHA256 of the raw body with the webhook secret."""
        secret = self.settings.webhook_secret
        if not secret or not signature:
            return False
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return _verified(
            lambda: self.client.utility.verify_webhook_signature(text, signature, secret)
        )


def _verified(check: Any) -> bool:
    try:
        return bool(check())
    except SignatureVerificationError:
        return False
    except (TypeError, ValueError):  # e.g. a non-ASCII signature that compare_digest refuses
        return False
