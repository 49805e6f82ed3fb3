"""Handing queued mail to the workers at once (beat's sweep would within MAIL_SWEEP_SECONDS)."""

from __future__ import annotations

import hashlib
import logging

from flask import current_app, request

from common.errors import ServiceUnavailable

log = logging.getLogger(__name__)


def deliver_soon(*keys: str | None) -> None:
    """Send `mail.send(key)` for each queued mail. The outbox already holds the mail, so a
    broker hiccup here only delays it until the sweep."""
    celery = current_app.extensions["celery"]
    for key in filter(None, keys):
        try:
            celery.send_task("mail.send", [key])
        except Exception:
            log.warning("could not hand mail %s to the workers; the sweep will", key, exc_info=True)


def send_reset_link_later(email: str) -> None:
    """The reset mail is decided by a worker, known address or not (no account oracle). The
    broker down is 503 for every address alike."""
    try:
        current_app.extensions["celery"].send_task("accounts.send_reset_link", [email])
    except Exception as exc:
        log.error("could not hand a password reset to the workers: %s", exc)
        raise ServiceUnavailable(
            "Password reset is unavailable right now; try again shortly."
        ) from None


def email_key() -> str:
    """Rate-limit key: the email address in the body (hashed), for per-address limits."""
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    text = email.strip().lower() if isinstance(email, str) else ""
    return "email:" + hashlib.sha256(text.encode()).hexdigest()[:32]
