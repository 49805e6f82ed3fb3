"""An answer's final frame (`done` / `cancelled` / `error`), built from its stored message, and
its publication — the channel keeps only the first, so publishing again is harmless."""

from __future__ import annotations

import logging
from typing import Any

from common.conversations.models import ChatMessage
from common.engine import outage
from common.errors import AppError
from common.streaming import channel
from common.users import service as users
from common.users.snapshot import snapshot, snapshot_from_doc

log = logging.getLogger(__name__)


def user_snapshot(user_id) -> dict | None:
    user = users.find_user(user_id)
    return snapshot(user) if user else None


def final_frame_for(msg: ChatMessage, user_after: dict | None = None) -> dict[str, Any]:
    mid = str(msg.id)
    seq = msg.lastSeq or 0
    user = snapshot_from_doc(user_after) if user_after else user_snapshot(msg.userId)
    if msg.status == "done":
        usage = {
            "promptTokens": msg.usage.promptTokens,
            "completionTokens": msg.usage.completionTokens,
            "totalTokens": msg.usage.totalTokens,
        }
        frame = {
            "type": "done",
            "messageId": mid,
            "seq": seq,
            "content": msg.content,
            "usage": usage,
            "charged": msg.charged,
            "receipt": msg.receipt,
            "modelId": msg.modelId,
            "user": user,
        }
        if msg.toolCalls:
            frame["toolCalls"] = msg.toolCalls
        if msg.finishReason:
            frame["finishReason"] = msg.finishReason
        return frame
    if msg.status == "cancelled":
        return {
            "type": "cancelled",
            "messageId": mid,
            "seq": seq,
            "charged": msg.charged,
            "receipt": msg.receipt,
            "user": user,
        }
    error = dict(msg.error or {})
    return {
        "type": "error",
        "messageId": mid,
        "seq": seq,
        "code": error.get("code") or AppError.code,
        "message": error.get("message") or AppError.message,
        "details": error.get("details") or {},
        "user": user,
    }


def publish_final(
    msg: ChatMessage, user_after: dict | None = None, lease_token: str | None = None
) -> None:
    """Publish the final frame, retrying through a Redis outage; if Redis stays down, mark
    the message `finalPending` for the reaper (the final state itself is already stored).
    `lease_token`: the ending run's lease, dropped with the frame (one round trip for both)."""
    try:
        outage.retrying(
            lambda: publish_final_once(msg, user_after, lease_token), f"final frame of {msg.id}"
        )
    except outage.TRANSIENT:
        log.error("final frame of %s not published; the reaper will publish it", msg.id)
        outage.retrying(
            lambda: ChatMessage._get_collection().update_one(
                {"_id": msg.id}, {"$set": {"finalPending": True}}
            ),
            f"marking {msg.id} finalPending",
            outage.DB_TRANSIENT,
        )


def publish_final_once(
    msg: ChatMessage, user_after: dict | None = None, lease_token: str | None = None
) -> None:
    """The channel keeps only the first final frame, so publishing again is harmless; the
    check first only saves the user read that a frame without `user_after` needs."""
    if user_after is None and channel.has_final(str(msg.id)):
        return
    channel.publish_final(str(msg.id), final_frame_for(msg, user_after), lease_token)
