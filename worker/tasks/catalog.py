"""Keeping the model catalog fresh for every web process."""

from __future__ import annotations

from celery import shared_task

from common.catalog import service as catalog
from config import get_settings

BEAT_SCHEDULE = {
    "catalog-refresh": {
        "task": "catalog.refresh",
        "schedule": float(max(10, get_settings().model_cache_seconds)),
    },
}


@shared_task(name="catalog.refresh")
def refresh() -> dict:
    """Sync the providers' models and replace the shared Redis copy before it expires."""
    result = catalog.refresh_catalog()
    return {"synced": result.synced, "failed": result.failed, "models": len(result.models)}
