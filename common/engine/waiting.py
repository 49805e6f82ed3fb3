"""Waiting for answers to end (the synchronous `"wait": true` shape)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from common.conversations.models import FINAL_STATUSES, ChatMessage
from common.engine import cancel, outage
from common.errors import ServiceUnavailable
from common.streaming import channel

log = logging.getLogger(__name__)

STORE_CHECK_SECONDS = 1.0


def wait_final(
    messages: list[ChatMessage],
    timeout: float = 300.0,
    client_gone: Callable[[], bool] | None = None,
    check_every: float = 0.5,
) -> list[ChatMessage]:
    """Block until every message has ended: its final frame in Redis (cheap checks), or — once
    a second, for when Redis lost or never got that frame — its final state in the store.

    `client_gone` is asked every `check_every` seconds; once it says yes, the answers still
    running are cancelled (charged for what was generated, as a cancel) and waited for."""
    deadline = time.monotonic() + timeout
    next_client_check = time.monotonic() + check_every if client_gone else None
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
        if next_client_check is not None and time.monotonic() >= next_client_check:
            next_client_check = time.monotonic() + check_every
            if client_gone():
                _cancel(messages, pending)
                next_client_check = None  # once; the cancelled answers' final frames end the wait
        if time.monotonic() > deadline:
            raise ServiceUnavailable("The answer is taking too long; it will keep streaming.")
        time.sleep(0.05)
    fresh = [ChatMessage.objects(id=m.id).first() or m for m in messages]
    return fresh


def _cancel(messages: list[ChatMessage], pending: set[str]) -> None:
    for msg in messages:
        if str(msg.id) in pending:
            try:
                cancel.cancel_message(msg.userId, str(msg.id))
            except Exception:  # it ended meanwhile, or the store blinked: the wait goes on
                log.warning("could not cancel %s for a client that hung up", msg.id, exc_info=True)
