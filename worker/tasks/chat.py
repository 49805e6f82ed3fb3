"""Chat tasks: run one answer; sweep streams whose worker died and answers never started."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import task_received

from common import metrics
from common.chat import completion, early, reaper

log = logging.getLogger(__name__)

BEAT_SCHEDULE = {
    "chat-reap-stale": {"task": "chat.reap_stale", "schedule": 5.0},
}


@shared_task(name="chat.complete")
def complete(message_id: str, hint: dict | None = None) -> str:
    """Stream, settle and publish one assistant message; safe to deliver more than once.
    `hint`: the request to start while the message is claimed (`common.chat.early`)."""
    return completion.complete(message_id, hint)


@task_received.connect
def _ask_early(sender=None, request=None, **_kwargs) -> None:
    """A chat task's provider request starts as the task arrives, before the worker sends its
    task events and hands the task to the pool (`common.chat.early`) — where the pool runs
    tasks in this process (gevent, threads, solo): a prefork child could not take it."""
    if request is None or request.name != "chat.complete" or not request.args:
        return
    if not _runs_here(sender):
        return
    try:
        early.prestart(request.args[0], (request.kwargs or {}).get("hint"))
    except Exception:  # only a head start: the run asks the provider itself
        log.warning("could not start %s early", request.args[0], exc_info=True)


def _runs_here(consumer) -> bool:
    pool = getattr(consumer, "pool", None)
    return pool is not None and not type(pool).__module__.endswith(".prefork")


def _enqueue(message_id: str) -> None:
    complete.apply_async(args=[message_id], queue="chat", ignore_result=True)


@shared_task(name="chat.reap_stale")
def reap_stale() -> dict:
    """Interrupt streams whose worker died, enqueue again answers whose task was lost, publish
    final frames Redis missed, and finish holds left open by a crash."""
    counts = reaper.reap_stale(enqueue=_enqueue)
    metrics.reaper_swept(counts)
    return counts
