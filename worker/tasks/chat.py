"""Chat tasks: run one answer; sweep streams whose worker died."""

from __future__ import annotations

from celery import shared_task

from common import metrics
from common.chat import completion, reaper

BEAT_SCHEDULE = {
    "chat-reap-stale": {"task": "chat.reap_stale", "schedule": 10.0},
}


@shared_task(name="chat.complete")
def complete(message_id: str) -> str:
    """Stream, settle and publish one assistant message; safe to deliver more than once."""
    return completion.complete(message_id)


@shared_task(name="chat.reap_stale")
def reap_stale() -> dict:
    """Interrupt streams whose worker died and finish holds left open by a crash."""
    counts = reaper.reap_stale()
    metrics.reaper_swept(counts)
    return counts
