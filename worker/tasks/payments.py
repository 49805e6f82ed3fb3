"""Periodic payment maintenance: expire subscriptions, finish half-applied purchases."""

from __future__ import annotations

from celery import shared_task

from common.payments import service, subscriptions

BEAT_SCHEDULE = {
    "payments-expire-subscriptions": {
        "task": "payments.expire_subscriptions",
        "schedule": 300.0,
    },
    "payments-finish-stuck-orders": {"task": "payments.finish_stuck_orders", "schedule": 60.0},
}


@shared_task(name="payments.expire_subscriptions")
def expire_subscriptions() -> int:
    """Move subscriptions whose expiry has passed back to `free` with free limits."""
    return subscriptions.expire_due()


@shared_task(name="payments.finish_stuck_orders")
def finish_stuck_orders() -> int:
    """Finish paid orders whose credit or subscription was not applied (a crash between steps)."""
    return service.finish_stuck_orders()
