"""A local Razorpay: a real HTTP server speaking the Orders and Payments API, plus signers.

`FakeRazorpay` answers what the official SDK sends:

- `POST /v1/orders` (HTTP basic auth with the key id and secret) → the order entity
  `{id: "order_…", entity: "order", amount, amount_paid, amount_due, currency, receipt,
  offer_id, status: "created", attempts, notes, created_at}`;
- `GET /v1/orders/<id>`, `GET /v1/orders/<id>/payments`, `GET /v1/payments/<id>`;
- wrong or missing credentials → 401 with Razorpay's error shape, unknown ids → 400
  `BAD_REQUEST_ERROR`, like the real API.

Tests play the customer with `pay()` / `fail()` / `refund()`, which change the server's state
the way Checkout and the dashboard would, and sign what Razorpay signs with `sign_payment` and
`sign_webhook` (HMAC-SHA256 hex, as `razorpay.Utility` verifies it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import string
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ALPHABET = string.ascii_letters + string.digits


def rzp_id(prefix: str) -> str:
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(14))


def sign_payment(order_id: str, payment_id: str, secret: str) -> str:
    """The `razorpay_signature` Checkout returns: HMAC-SHA256(order_id|payment_id)."""
    return hmac.new(
        secret.encode(), f"{order_id}|{payment_id}".encode(), hashlib.sha256
    ).hexdigest()


def sign_webhook(body: bytes, secret: str) -> str:
    """`X-Razorpay-Signature`: HMAC-SHA256 hex of the raw body with the webhook secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_event(event: str, **entities: dict | None) -> dict:
    """A webhook body in Razorpay's shape: `payload.<name>.entity` for each entity given."""
    present = {name: e for name, e in entities.items() if e is not None}
    return {
        "entity": "event",
        "account_id": "acc_FakeAccount0001",
        "event": event,
        "contains": list(present),
        "payload": {name: {"entity": e} for name, e in present.items()},
        "created_at": int(time.time()),
    }


def signed_webhook(event: dict, secret: str, event_id: str | None = None) -> tuple[bytes, dict]:
    """(raw body, headers) for one delivery, as Razorpay would POST it."""
    body = json.dumps(event, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Razorpay-Signature": sign_webhook(body, secret),
        "X-Razorpay-Event-Id": event_id or rzp_id("evt"),
    }
    return body, headers


def _error(description: str, field: str | None = None) -> dict:
    return {
        "error": {
            "code": "BAD_REQUEST_ERROR",
            "description": description,
            "source": "business" if field else "NA",
            "step": "payment_initiation" if field else "NA",
            "reason": "input_validation_failed" if field else "NA",
            "metadata": {},
            "field": field,
        }
    }


class FakeRazorpay:
    """Start with `with FakeRazorpay() as rzp:`; `rzp.base_url` is the `RAZORPAY_BASE_URL`."""

    def __init__(
        self,
        key_id: str = "rzp_test_FakeKey0001",
        key_secret: str = "fake-key-secret",
        webhook_secret: str = "fake-webhook-secret",
    ):
        self.key_id, self.key_secret = key_id, key_secret
        self.webhook_secret = webhook_secret  # as set on the dashboard's webhook
        self.orders: dict[str, dict] = {}
        self.payments: dict[str, dict] = {}
        self.requests: list[tuple[str, str, dict | None]] = []
        self.fail_next_create: int | None = None  # an HTTP status to answer the next create with
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> FakeRazorpay:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.orders.clear()
            self.payments.clear()
            self.requests.clear()
            self.fail_next_create = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    # -- the customer's side ------------------------------------------------------------------

    def pay(
        self,
        order_id: str,
        amount: int | None = None,
        currency: str | None = None,
        status: str = "captured",
    ) -> dict:
        """A payment against the order (what Checkout does); returns the payment entity."""
        with self._lock:
            order = self.orders[order_id]
            payment = {
                "id": rzp_id("pay"),
                "entity": "payment",
                "amount": order["amount"] if amount is None else amount,
                "currency": currency or order["currency"],
                "status": status,
                "order_id": order_id,
                "invoice_id": None,
                "international": False,
                "method": "card",
                "amount_refunded": 0,
                "refund_status": None,
                "captured": status == "captured",
                "description": "AI Pasta",
                "email": "buyer@example.com",
                "contact": "+919000090000",
                "notes": dict(order["notes"]),
                "fee": 0,
                "tax": 0,
                "error_code": None,
                "error_description": None,
                "created_at": int(time.time()),
            }
            if status == "failed":
                payment["error_code"] = "BAD_REQUEST_ERROR"
                payment["error_description"] = "Payment failed because the card was declined."
            order["attempts"] += 1
            if status == "captured":
                order.update(status="paid", amount_paid=payment["amount"], amount_due=0)
            elif order["status"] == "created":
                order["status"] = "attempted"
            self.payments[payment["id"]] = payment
            return dict(payment)

    def fail(self, order_id: str) -> dict:
        return self.pay(order_id, status="failed")

    def refund(self, payment_id: str, amount: int | None = None) -> dict:
        """A processed refund of `amount` (default: all that is left); returns the refund."""
        with self._lock:
            payment = self.payments[payment_id]
            amount = payment["amount"] - payment["amount_refunded"] if amount is None else amount
            payment["amount_refunded"] += amount
            full = payment["amount_refunded"] >= payment["amount"]
            payment.update(status="refunded" if full else payment["status"])
            payment["refund_status"] = "full" if full else "partial"
            return {
                "id": rzp_id("rfnd"),
                "entity": "refund",
                "amount": amount,
                "currency": payment["currency"],
                "payment_id": payment_id,
                "notes": {},
                "receipt": None,
                "status": "processed",
                "speed_processed": "normal",
                "created_at": int(time.time()),
            }

    def payment(self, payment_id: str) -> dict:
        with self._lock:
            return dict(self.payments[payment_id])

    def order(self, order_id: str) -> dict:
        with self._lock:
            return dict(self.orders[order_id])

    # -- the API ------------------------------------------------------------------------------

    def _create_order(self, body: Any) -> tuple[int, dict]:
        if not isinstance(body, dict):
            return 400, _error("The request body must be a JSON object")
        amount, currency = body.get("amount"), body.get("currency", "INR")
        if not isinstance(amount, int) or isinstance(amount, bool):
            return 400, _error("The amount must be an integer.", "amount")
        if amount < 100:
            return 400, _error("The amount must be atleast INR 1.00", "amount")
        if not isinstance(currency, str) or len(currency) != 3:
            return 400, _error("The currency is invalid.", "currency")
        receipt, notes = body.get("receipt"), body.get("notes") or {}
        if receipt is not None and (not isinstance(receipt, str) or len(receipt) > 40):
            return 400, _error("receipt: the length must be no more than 40.", "receipt")
        if not isinstance(notes, dict) or len(notes) > 15:
            return 400, _error("notes: the number of keys must be 15 or fewer.", "notes")
        order = {
            "id": rzp_id("order"),
            "entity": "order",
            "amount": amount,
            "amount_paid": 0,
            "amount_due": amount,
            "currency": currency,
            "receipt": receipt,
            "offer_id": None,
            "status": "created",
            "attempts": 0,
            "notes": notes,
            "created_at": int(time.time()),
        }
        with self._lock:
            self.orders[order["id"]] = order
        return 200, dict(order)

    def _get(self, path: str) -> tuple[int, dict]:
        parts = path.strip("/").split("/")  # v1, orders|payments, id[, payments]
        with self._lock:
            if len(parts) == 3 and parts[1] == "orders" and parts[2] in self.orders:
                return 200, dict(self.orders[parts[2]])
            if (
                len(parts) == 4
                and parts[1:4:2] == ["orders", "payments"]
                and parts[2] in self.orders
            ):
                items = [p for p in self.payments.values() if p["order_id"] == parts[2]]
                return 200, {"entity": "collection", "count": len(items), "items": items}
            if len(parts) == 3 and parts[1] == "payments" and parts[2] in self.payments:
                return 200, dict(self.payments[parts[2]])
        return 400, _error("The id provided does not exist")

    def _authorised(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return hmac.compare_digest(f"{user}:{password}", f"{self.key_id}:{self.key_secret}")


class _Handler(BaseHTTPRequestHandler):
    fake: FakeRazorpay
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode(errors="replace")

    def _check_auth(self) -> bool:
        if self.fake._authorised(self.headers.get("Authorization")):
            return True
        self._send(401, _error("Authentication failed"))
        return False

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self._body()
        self.fake.requests.append(("POST", self.path, body if isinstance(body, dict) else None))
        if not self._check_auth():
            return
        if self.path.rstrip("/") != "/v1/orders":
            self._send(400, _error("The requested URL was not found on the server."))
            return
        if self.fake.fail_next_create:
            status, self.fake.fail_next_create = self.fake.fail_next_create, None
            self._send(status, {"error": {"code": "SERVER_ERROR", "description": "Oops"}})
            return
        self._send(*self.fake._create_order(body))

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        self.fake.requests.append(("GET", path, None))
        if self._check_auth():
            self._send(*self.fake._get(path))
