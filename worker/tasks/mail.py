"""Sending the outbox: one task per mail, and beat's sweep for mail whose task was lost.

`mail.send(key)` may run any number of times for one mail (a web kick, the sweep, a redelivery
after a worker died): `outbox.deliver` claims the mail first, so it leaves once. While SMTP is
down the task schedules itself again after the mail's backoff.
"""

from __future__ import annotations

from celery import shared_task

from common.mail import outbox
from config import get_settings

BEAT_SCHEDULE = {
    "mail-sweep": {"task": "mail.sweep", "schedule": get_settings().mail_sweep_seconds},
}


@shared_task(name="mail.send")
def send(key: str) -> str:
    """Send the mail `key` if due and not taken; on a transient failure (or run before the mail
    is due), try again later."""
    delivery = outbox.deliver(key)
    if delivery.outcome in ("retry", "early"):
        send.apply_async(args=[key], countdown=delivery.retry_in)
    return delivery.outcome


@shared_task(name="mail.sweep")
def sweep() -> int:
    """Hand every due mail to `mail.send` (tasks lost with a worker or a broker restart)."""
    keys = outbox.due_keys()
    for key in keys:
        send.delay(key)
    return len(keys)
