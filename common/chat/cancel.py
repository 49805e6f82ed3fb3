"""Cancelling an answer (DESIGN.md chat flow, step 5)."""

from __future__ import annotations

from typing import Any

from common.chat import sessions, settlement
from common.chat.models import FINAL_STATUSES, ChatMessage
from common.streaming import channel


def cancel_message(user_id: Any, message_id: str) -> ChatMessage:
    """Ask the stream to stop; idempotent. A message no worker has claimed yet is cancelled here
    (nothing generated, nothing charged); a streaming one is stopped by its worker at the next
    delta, which charges what was generated and publishes `cancelled`."""
    msg = sessions.get_message(user_id, message_id)
    if msg.role != "assistant" or msg.status in FINAL_STATUSES:
        return msg
    channel.request_cancel(str(msg.id))
    if msg.status == "pending":
        settlement.cancel_unstarted(msg)
    return ChatMessage.objects(id=msg.id).first() or msg
