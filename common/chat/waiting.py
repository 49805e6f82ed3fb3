"""Waiting for answers to end (the synchronous `"wait": true` shape)."""

from __future__ import annotations

import time

from common.chat.models import ChatMessage
from common.errors import ServiceUnavailable
from common.streaming import channel


def wait_final(messages: list[ChatMessage], timeout: float = 300.0) -> list[ChatMessage]:
    """Block until every message has its final frame (cheap Redis checks), then reload them."""
    deadline = time.monotonic() + timeout
    # Only those still running: a replayed send's answers may have ended long ago (their final
    # frames gone from Redis) or been deleted.
    pending = {str(m.id) for m in messages if m.status in ("pending", "streaming")}
    while pending:
        pending = {mid for mid in pending if not channel.has_final(mid)}
        if not pending:
            break
        if time.monotonic() > deadline:
            raise ServiceUnavailable("The answer is taking too long; it will keep streaming.")
        time.sleep(0.05)
    fresh = [ChatMessage.objects(id=m.id).first() or m for m in messages]
    return fresh
