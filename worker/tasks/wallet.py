"""Periodic wallet maintenance."""

from __future__ import annotations

from celery import shared_task

from common.wallet import service as wallet

BEAT_SCHEDULE = {
    "wallet-apply-pending": {"task": "wallet.apply_pending", "schedule": 60.0},
}


@shared_task(name="wallet.apply_pending")
def apply_pending() -> int:
    """Finish ledger entries whose writer died between writing and applying them."""
    return wallet.apply_pending()
