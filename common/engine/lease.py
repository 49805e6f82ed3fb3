"""Owning a message's run: the Redis lease, the claim pending → streaming, the heartbeat.

A run owns a message only if it both takes the lease (`SET NX` under a random token, kept alive
by a heartbeat while streaming) and wins the conditional update pending → streaming under that
token. The lease says "a runner is alive"; the claim says "this runner is the one".
"""

from __future__ import annotations

import logging
import threading

from bson import ObjectId

from common.conversations.models import ChatMessage
from common.engine import outage
from common.engine.liveness import Beacon
from common.engine.run import Run
from common.stored import utcnow
from common.streaming import channel
from config import get_settings

log = logging.getLogger(__name__)


def seconds() -> float:
    return get_settings().hold_lease_seconds


def take(message_id: str, lease_seconds: float) -> str | None:
    """A new token if this process now holds the message's lease, else None. The token names
    this process (`liveness`), so a run whose lease lapses can be traced to its worker."""
    token = Beacon.current().token()
    return token if channel.take_lease(message_id, token, lease_seconds) else None


def drop(message_id: str, token: str) -> None:
    try:
        channel.drop_lease(message_id, token)
    except outage.REDIS_TRANSIENT:  # it expires by itself
        log.warning("could not drop the lease of %s", message_id)


def claim(oid: ObjectId, token: str) -> ChatMessage | None:
    """pending → streaming under `token`; retried through a database blip (a retry whose
    earlier try went through finds the message streaming under its own token)."""

    def attempt():
        now = utcnow()
        doc = ChatMessage._get_collection().find_one_and_update(
            {"_id": oid, "status": "pending"},
            {
                "$set": {
                    "status": "streaming",
                    "claimToken": token,
                    "startedAt": now,
                    "updatedAt": now,
                },
                "$inc": {"attempts": 1},
            },
            return_document=True,
        )
        if doc is None:
            doc = ChatMessage._get_collection().find_one(
                {"_id": oid, "status": "streaming", "claimToken": token}
            )
        return doc

    doc = outage.retrying(attempt, f"claiming {oid}", outage.DB_TRANSIENT)
    return ChatMessage._from_son(doc) if doc else None


class Heartbeat:
    """Keeps the lease alive while `run` streams; flags the run if the lease was lost."""

    def __init__(self, run: Run, lease: float):
        self.run, self.lease = run, lease
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"lease-{run.mid}", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(2)

    def _beat(self):
        while not self.stop.wait(self.lease / 3):
            try:
                if not channel.refresh_lease(self.run.mid, self.run.token, self.lease):
                    self.run.lost.set()
                    return
            except Exception as exc:  # Redis blip: try again next beat
                log.warning("lease refresh failed for %s: %s", self.run.mid, exc)
