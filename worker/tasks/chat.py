"""Chat tasks: run one answer; sweep streams whose worker died and answers never started."""

from __future__ import annotations

from celery import shared_task

from common import metrics
from common.engine import completion, reaper

BEAT_SCHEDULE = {
    "chat-reap-stale": {"task": "chat.reap_stale", "schedule": 5.0},
}


@shared_task(name="chat.complete")
def complete(message_id: str, hold: dict | None = None) -> str:
    """Stream, settle and publish one assistant message; safe to deliver more than once.
    `hold`: its wallet hold as the send placed it (absent when the reaper enqueues it again)."""
    return completion.complete(message_id, hold)


def _enqueue(message_id: str, hold: dict | None = None) -> None:
    complete.apply_async(args=[message_id, hold], queue="chat", ignore_result=True)


@shared_task(name="chat.reap_stale")
def reap_stale() -> dict:
    """Interrupt streams whose worker died, enqueue again answers whose task was lost, publish
    final frames Redis missed, and finish holds left open by a crash."""
    counts = reaper.reap_stale(enqueue=_enqueue)
    metrics.reaper_swept(counts)
    return counts
