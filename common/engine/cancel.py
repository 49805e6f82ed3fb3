"""Cancelling an answer (DESIGN.md chat flow, step 5), one or all of a session's, and deleting
a conversation (its running answers are cancelled and waited for first)."""

from __future__ import annotations

import time
from typing import Any

from common.conversations import sessions
from common.conversations.models import FINAL_STATUSES, ChatMessage
from common.engine import ending, liveness
from common.errors import Conflict
from common.streaming import channel
from config import get_settings

RUNNING = ("pending", "streaming")


def cancel_message(user_id: Any, message_id: str) -> ChatMessage:
    """Ask the stream to stop; idempotent. A message no worker has claimed yet is cancelled here
    (nothing generated, nothing charged); a streaming one is stopped by its worker at the next
    delta, which charges what was generated and publishes `cancelled`."""
    msg = sessions.get_message(user_id, message_id)
    if msg.role != "assistant" or msg.status in FINAL_STATUSES:
        return msg
    channel.request_cancel(str(msg.id))
    if msg.status == "pending":
        ending.cancel_unstarted(msg)
    return ChatMessage.objects(id=msg.id).first() or msg


def cancel_running(session_id: str) -> None:
    """Cancel every running answer of a session and wait until each has ended and settled
    (charged for what was generated, `cancelled` frame). A streaming answer whose worker is
    gone (`liveness`) is interrupted here. Raises `Conflict` if some still run after `DELETE_WAIT_SECONDS`
    (e.g. a provider silent that long: its worker sees the cancel at its next delta)."""
    running = list(ChatMessage.objects(sessionId=session_id, role="assistant", status__in=RUNNING))
    if not running:
        return
    settings = get_settings()
    for msg in running:
        channel.request_cancel(str(msg.id))
        if msg.status == "pending":
            ending.cancel_unstarted(msg)
    ids = [m.id for m in running]
    deadline = time.monotonic() + settings.delete_wait_seconds
    while True:
        left = list(ChatMessage.objects(id__in=ids, status__in=RUNNING))
        if not left:
            return
        for msg in liveness.dead(left):
            ending.interrupt(msg)
        if time.monotonic() > deadline:
            raise Conflict(
                "Answers of this chat are still running; try deleting it again in a moment.",
                {"running": [str(m.id) for m in left]},
            )
        time.sleep(0.1)


def delete_session(user_id: Any, session_id: str) -> int:
    """Delete the session and its messages; returns how many messages went with it.

    Its running answers are cancelled first and waited for (`cancel_running`): each is charged
    for what it generated and its clients get `cancelled`; a running answer's message is never
    deleted under it (409 CONFLICT if one outlasts the wait).
    """
    session = sessions.get_session(user_id, session_id)
    cancel_running(session.sessionId)
    return sessions.delete_stored(session)
