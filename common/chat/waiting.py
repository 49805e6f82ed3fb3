"""Waiting for answers to end (the synchronous `"wait": true` shape)."""

from __future__ import annotations

import time

from common.chat import outage
from common.chat.models import FINAL_STATUSES, ChatMessage
from common.errors import ServiceUnavailable
from common.streaming import channel

STORE_CHECK_SECONDS = 1.0


def wait_final(messages: list[ChatMessage], timeout: float = 300.0) -> list[ChatMessage]:
    """Block until every message has ended: its final frame in Redis (cheap checks), or — once
    a second, for when Redis lost or never got that frame — its final state in the store."""
    deadline = time.monotonic() + timeout
    # Only those still running: a replayed send's answers may have ended long ago (their final
    # frames gone from Redis) or been deleted.
    pending = {str(m.id) for m in messages if m.status in ("pending", "streaming")}
    next_store_check = time.monotonic() + STORE_CHECK_SECONDS
    while pending:
        try:
            pending = {mid for mid in pending if not channel.has_final(mid)}
        except outage.REDIS_TRANSIENT:
            next_store_check = 0.0
        if pending and time.monotonic() >= next_store_check:
            ids = [m.id for m in messages if str(m.id) in pending]
            ended = ChatMessage.objects(id__in=ids, status__in=list(FINAL_STATUSES)).only("id")
            pending -= {str(m.id) for m in ended}
            next_store_check = time.monotonic() + STORE_CHECK_SECONDS
        if not pending:
            break
        if time.monotonic() > deadline:
            raise ServiceUnavailable("The answer is taking too long; it will keep streaming.")
        time.sleep(0.05)
    fresh = [ChatMessage.objects(id=m.id).first() or m for m in messages]
    return fresh
