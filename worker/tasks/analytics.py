"""Periodic analytics: store each finished day once, off the request path."""

from __future__ import annotations

from celery import shared_task

from common.admin import rollups

BEAT_SCHEDULE = {
    "analytics-store-final-days": {"task": "analytics.store_final_days", "schedule": 3600.0},
}


@shared_task(name="analytics.store_final_days")
def store_final_days() -> int:
    """Compute the finished days no report has stored yet (the first run does a year)."""
    return rollups.store_final_days()
