"""Account mail that must not be decided in the web request (no account oracle)."""

from __future__ import annotations

from celery import shared_task

from common.accounts import recovery
from worker.tasks.mail import send


@shared_task(name="accounts.send_reset_link")
def send_reset_link(email: str) -> bool:
    """Mail a reset link if the address has an account; the web answered 202 either way."""
    key = recovery.send_reset_link(email)
    if key is not None:
        send(key)
    return key is not None
