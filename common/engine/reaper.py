"""The stale-stream reaper (a beat task runs it every few seconds).

- A `streaming` message whose runner is gone (killed, OOM, host gone — `liveness` decides, from
  its lease, its last publish and its worker process's beacon) ends `interrupted`, its hold is
  released and its stream gets an `error` frame STREAM_INTERRUPTED. A worker that is merely
  slow or starved of CPU is waited for. A runner that could not store its outcome (the
  database was down past its retries) left it in Redis: that outcome is applied instead.
- A `pending` message no worker claimed within `PENDING_REQUEUE_SECONDS` (its task was lost:
  the web died between saving and enqueueing, or the broker lost its queue) is enqueued again —
  the task is idempotent by its claim — up to `PENDING_MAX_REQUEUES` times; one still pending
  after that fails with SERVICE_UNAVAILABLE, its hold released and an `error` frame published.
  One without its wallet hold (its web process died mid-send, before placing it) fails at
  once: nothing was held, so nothing may run.
- A message whose final frame could not reach Redis (`finalPending`) gets it published, and one
  a provider refused whose moderation flag was not yet set (`moderationPending`) gets it.
- A chat hold older than `HOLD_GRACE` whose message is final is finished (a crash between the
  message's final update and the wallet). One whose message is gone and no longer running is
  charged for what its stream shows was delivered (released if nothing was).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta

from bson import ObjectId

from common.conversations.models import FINAL_STATUSES, ChatMessage
from common.conversations.tokens import estimate_tokens
from common.engine import aftermath, ending, frames, liveness
from common.engine.settlement import CHARGED_STATUSES
from common.errors import ServiceUnavailable
from common.stored import as_utc, utcnow
from common.streaming import channel
from common.wallet import service as wallet
from config import get_settings

log = logging.getLogger(__name__)

HOLD_GRACE = timedelta(minutes=2)
NOT_STARTED = "No worker could start this answer. You were not charged; please retry."


def reap_stale(enqueue: Callable[[str], None] | None = None) -> dict[str, int]:
    """One sweep; returns how many messages/holds each rule touched. `enqueue(message_id)`
    sends a pending answer's task again (without it, pending answers are left alone)."""
    requeued, failed = _requeue_pending(enqueue) if enqueue else (0, 0)
    return {
        "interrupted": _interrupt_dead_streams(),
        "requeued": requeued,
        "expired": failed,
        "finals": _republish_finals(),
        "flags": aftermath.flag_pending(),
        "holds": _finish_orphan_holds(),
    }


def _each(items, what: str, work: Callable) -> int:
    """`work(item)` for each item; a failure is logged and skips only that item."""
    done = 0
    for item in items:
        try:
            if work(item):
                done += 1
        except Exception:
            log.exception("reaper: %s failed for %s", what, getattr(item, "id", item))
    return done


def _interrupt_dead_streams() -> int:
    gone = liveness.dead(ChatMessage.objects(status="streaming"))
    return _each(gone, "interrupt", lambda msg: ending.interrupt(msg) is not None)


def _requeue_pending(enqueue: Callable[[str], None]) -> tuple[int, int]:
    settings = get_settings()
    wait = timedelta(seconds=settings.pending_requeue_seconds)
    now = utcnow()
    due = [
        m
        for m in ChatMessage.objects(status="pending")
        if now - (as_utc(m.requeuedAt) or as_utc(m.createdAt) or now) >= wait
    ]
    expired = [m for m in due if (m.requeues or 0) >= settings.pending_max_requeues]
    again = [m for m in due if (m.requeues or 0) < settings.pending_max_requeues]

    def fail(msg: ChatMessage) -> bool:
        return bool(ending.fail_unstarted(msg, ServiceUnavailable(NOT_STARTED), "expired"))

    def requeue(msg: ChatMessage) -> bool:
        if wallet.get_hold(msg.userId, str(msg.id)) is None:
            # Its send died before placing the hold: running it would give the answer away.
            ending.fail_unstarted(msg, ServiceUnavailable(NOT_STARTED), "never held")
            return False
        took = ChatMessage._get_collection().update_one(
            {"_id": msg.id, "status": "pending"},
            {"$inc": {"requeues": 1}, "$set": {"requeuedAt": now}},
        )
        if not took.modified_count:
            return False
        enqueue(str(msg.id))
        log.warning("chat message %s enqueued again (try %d)", msg.id, (msg.requeues or 0) + 1)
        return True

    return _each(again, "requeue", requeue), _each(expired, "expire", fail)


def _republish_finals() -> int:
    def publish(msg: ChatMessage) -> bool:
        frames.publish_final_once(msg)
        ChatMessage._get_collection().update_one({"_id": msg.id}, {"$unset": {"finalPending": ""}})
        return True

    pending = ChatMessage.objects(finalPending=True, status__in=list(FINAL_STATUSES))
    return _each(list(pending), "final frame", publish)


def _finish_orphan_holds() -> int:
    def finish(item) -> bool:
        user_id, key = item
        msg = ChatMessage.objects(id=ObjectId(key)).first()
        if msg is None:
            return _settle_gone(user_id, key)
        if msg.status in FINAL_STATUSES:
            ending.finish(msg)
            return True
        return False

    return _each(list(_old_chat_holds(utcnow() - HOLD_GRACE)), "hold", finish)


def _settle_gone(user_id, key: str) -> bool:
    """The hold's message was deleted. If its answer still runs, wait; otherwise charge what
    its stream shows was generated (the final frame's `charged`, else an estimate of the
    chunks), so deleting a message never gives its answer away."""
    if channel.leases_alive([key])[key]:
        return False
    frames = [json.loads(raw) for raw in channel.buffered(key)]
    final = frames[-1] if frames and frames[-1].get("type") in channel.FINAL_TYPES else None
    if final is not None and final.get("type") in CHARGED_STATUSES:
        amount = int(final.get("charged") or 0)
    elif final is not None:
        amount = 0
    else:
        text = "".join(f.get("delta", "") for f in frames if f.get("type") == "chunk")
        amount = estimate_tokens(text) if text else 0
    details = {"messageId": key, "reason": "message gone"}
    if amount:
        wallet.settle(user_id, key, amount, source="chat", details=details)
    else:
        wallet.release(user_id, key, reason="message gone")
    return True


def _old_chat_holds(before):
    """(user id, key) of chat holds (keyed by a message id) placed before `before`."""
    for user_id, hold, _at in wallet.open_holds(older_than=before):
        if ObjectId.is_valid(hold.key):
            yield user_id, hold.key
