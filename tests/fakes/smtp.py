"""A real SMTP server on loopback (aiosmtpd), keeping every message it accepts.

The product talks to it with `smtplib` exactly as to a real relay (no mock of `smtplib`).
`stop()` takes the server down (connections are refused) and `start()` brings it back on the
same port: an outage the outbox must ride out. Addresses in `refuse` get a permanent 550.
"""

from __future__ import annotations

import re
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.support.services import free_port

_LINK = re.compile(r"https?://\S+")


class _Handler:
    def __init__(self, server: SmtpServer):
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.lower() in self.server.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.server.received(message, list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self.refuse: set[str] = set()
        self._lock = threading.Condition()
        self._controller: Controller | None = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> SmtpServer:
        self._controller = Controller(
            _Handler(self), hostname="127.0.0.1", port=self.port, ready_timeout=10
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def env(self) -> dict[str, str]:
        """The settings that point the product at this server."""
        return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.port), "SMTP_STARTTLS": "false"}

    def received(self, message: EmailMessage, recipients: list[str]) -> None:
        with self._lock:
            message["X-Test-Recipients"] = ",".join(recipients)
            self.messages.append(message)
            self._lock.notify_all()

    def reset(self) -> None:
        with self._lock:
            self.messages.clear()
            self.refuse.clear()

    def to(self, address: str, kind: str | None = None) -> list[EmailMessage]:
        with self._lock:
            return [
                m
                for m in self.messages
                if address.lower() in str(m["To"]).lower()
                and (kind is None or m["X-AIPasta-Kind"] == kind)
            ]

    def wait_for(
        self, address: str, kind: str | None = None, count: int = 1, timeout: float = 30.0
    ) -> EmailMessage:
        """The `count`-th message to `address` (of `kind`), waiting for it to arrive."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.to(address, kind)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(str(m["To"]), m["X-AIPasta-Kind"]) for m in self.messages]
                    raise AssertionError(f"no {kind or 'mail'} #{count} for {address}; got {seen}")
                self._lock.wait(min(left, 0.5))
            return self.to(address, kind)[count - 1]


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()


def links_in(message: EmailMessage) -> list[str]:
    return _LINK.findall(text_of(message))


def token_of(message: EmailMessage) -> str:
    """The one-time token of the first link with one (`…#token=…`)."""
    for link in links_in(message):
        if "#token=" in link:
            return link.split("#token=", 1)[1]
    raise AssertionError(f"no link with a token in: {links_in(message)}")
