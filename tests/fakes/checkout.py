"""A local stand-in for Razorpay Checkout (`checkout.js` and its payment frame), for the browser
tests only: it is served from here, never from the product.

Like the real script it defines `window.Razorpay(options)` with `open()` and `on("payment.failed")`,
and opens a full-page frame from its own origin. The frame "pays" by asking the local Razorpay
(`FakeRazorpay`) to create a captured payment against the order, and hands back
`{razorpay_payment_id, razorpay_order_id, razorpay_signature}` signed with the key secret, as
Razorpay's servers do; "Decline" makes a failed payment and reports Razorpay's error shape;
closing the frame calls `modal.ondismiss`. The product code cannot tell it from the real one.

`webhook_first = app_base_url` makes every successful payment deliver a signed
`payment.captured` webhook to the app before the browser learns of the payment (the race of a
webhook that credits before verify-payment returns).
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

import requests

from tests.fakes.razorpay import FakeRazorpay, sign_payment, signed_webhook, webhook_event
from tests.fakes.served import LocalServer

HERE = Path(__file__).resolve().parent / "checkout"


class FakeCheckout(LocalServer):
    def __init__(self, razorpay: FakeRazorpay):
        super().__init__(_Handler)
        self.razorpay = razorpay
        self.webhook_first: str | None = None
        self.opened: list[dict] = []  # the options each open() was given (order, amount, ...)

    @property
    def script_url(self) -> str:
        return f"{self.origin}/v1/checkout.js"

    def reset(self) -> None:
        self.webhook_first = None
        self.opened.clear()

    # -- what the frame asks for ---------------------------------------------------------------

    def pay(self, key: str, order_id: str) -> tuple[int, dict]:
        if key != self.razorpay.key_id or order_id not in self.razorpay.orders:
            return 400, {"error": {"code": "BAD_REQUEST_ERROR", "description": "Unknown order."}}
        payment = self.razorpay.pay(order_id)
        if self.webhook_first:
            event = webhook_event("payment.captured", payment=payment)
            body, headers = signed_webhook(event, self.razorpay.webhook_secret)
            url = f"{self.webhook_first}/api/plans/webhook"
            requests.post(url, data=body, headers=headers, timeout=30).raise_for_status()
        signature = sign_payment(order_id, payment["id"], self.razorpay.key_secret)
        return 200, {
            "razorpay_payment_id": payment["id"],
            "razorpay_order_id": order_id,
            "razorpay_signature": signature,
        }

    def decline(self, key: str, order_id: str) -> tuple[int, dict]:
        if key != self.razorpay.key_id or order_id not in self.razorpay.orders:
            return 400, {"error": {"code": "BAD_REQUEST_ERROR", "description": "Unknown order."}}
        payment = self.razorpay.fail(order_id)
        return 200, {
            "error": {
                "code": "BAD_REQUEST_ERROR",
                "description": "Your payment has been declined by your bank.",
                "source": "bank",
                "step": "payment_authorization",
                "reason": "payment_failed",
                "metadata": {"order_id": order_id, "payment_id": payment["id"]},
            }
        }


class _Handler(BaseHTTPRequestHandler):
    fake: FakeCheckout
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = urlsplit(self.path).path
        if path == "/v1/checkout.js":
            self._send(200, (HERE / "checkout.js").read_bytes(), "application/javascript")
        elif path == "/v1/checkout/frame":
            self._send(200, (HERE / "frame.html").read_bytes(), "text/html; charset=utf-8")
        elif path == "/v1/checkout/frame.js":
            self._send(200, (HERE / "frame.js").read_bytes(), "application/javascript")
        else:
            self._send(404, b"not found", "text/plain")

    def do_POST(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if path == "/v1/checkout/opened":
            self.fake.opened.append(body)
            status, answer = 200, {}
        elif path == "/v1/checkout/pay":
            status, answer = self.fake.pay(body.get("key", ""), body.get("order_id", ""))
        elif path == "/v1/checkout/decline":
            status, answer = self.fake.decline(body.get("key", ""), body.get("order_id", ""))
        else:
            status, answer = 404, {}
        self._send(status, json.dumps(answer).encode(), "application/json")
