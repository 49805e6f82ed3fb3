"""The stale-stream reaper (a beat task runs it every few seconds).

- A `streaming` message whose lease key has expired lost its worker (killed, OOM, host gone):
  it ends `interrupted`, its hold is released and its stream gets an `error` frame
  STREAM_INTERRUPTED. A worker that is merely slow keeps its lease alive by heartbeat.
- A `pending` message older than the broker's visibility timeout will never be picked up:
  it fails and its hold is released.
- A chat hold older than `HOLD_GRACE` whose message is final is finished (a crash between the
  message's final update and the wallet); one whose message does not exist is released.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bson import ObjectId

from common.chat import settlement
from common.chat.completion import interrupt
from common.chat.dates import as_aware
from common.chat.models import FINAL_STATUSES, ChatMessage
from common.streaming import channel
from common.users.models import utcnow
from common.wallet import service as wallet

log = logging.getLogger(__name__)

HOLD_GRACE = timedelta(minutes=2)
PENDING_MAX_AGE = timedelta(seconds=3600 + 300)  # the broker's visibility timeout + margin


def reap_stale() -> dict[str, int]:
    """One sweep; returns how many messages/holds each rule touched."""
    return {
        "interrupted": _interrupt_dead_streams(),
        "expired": _fail_old_pending(),
        "holds": _finish_orphan_holds(),
    }


def _interrupt_dead_streams() -> int:
    streaming = list(ChatMessage.objects(status="streaming"))
    alive = channel.leases_alive([str(m.id) for m in streaming])
    done = 0
    for msg in streaming:
        if not alive[str(msg.id)] and interrupt(msg) is not None:
            log.warning("chat message %s interrupted (worker gone)", msg.id)
            done += 1
    return done


def _fail_old_pending() -> int:
    cutoff = utcnow() - PENDING_MAX_AGE
    done = 0
    for msg in ChatMessage.objects(status="pending", createdAt__lt=cutoff):
        if settlement.fail_unstarted(
            msg, "SERVICE_UNAVAILABLE", "This answer never started. Please retry.", "expired"
        ):
            done += 1
    return done


def _finish_orphan_holds() -> int:
    done = 0
    for user_id, key in _old_chat_holds(utcnow() - HOLD_GRACE):
        msg = ChatMessage.objects(id=ObjectId(key)).first()
        if msg is None:
            wallet.release(user_id, key, reason="message gone")
            done += 1
        elif msg.status in FINAL_STATUSES:
            settlement.finish(msg)
            done += 1
    return done


def _old_chat_holds(before):
    """(user id, key) of chat holds placed before `before`. Read here rather than through
    `wallet.open_holds`, which assumes the hold's `at` is a date (nx-27017 returns text)."""
    for doc in wallet.users().find({"tokens.reserved": {"$gt": 0}}, {"holds": 1}):
        for key, hold in (doc.get("holds") or {}).items():
            at = as_aware(hold.get("at"))
            if ObjectId.is_valid(key) and at is not None and at < before:
                yield doc["_id"], key
