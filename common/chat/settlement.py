"""Ending an answer: the message's final state, the wallet, the stats, the final frame.

The assistant message itself is the settlement record. Ending is, in this order:

1. one conditional update moves the message from `streaming` (owned by this run's claim token)
   or `pending` to its final status, with content, usage and the amount to charge — only one
   runner can ever win it;
2. the wallet hold keyed by the message id is settled for that amount (or released) — the wallet
   is idempotent by key, so finishing it again charges nothing more;
3. session stats, guarded by a `statsApplied` flag on the message so they count once (the
   user's usage counters ride on step 2's hold-closing update, so they too count once);
4. the final frame (`done` / `cancelled` / `error`) — the channel stores at most one.

Steps 1-3 run inside one transaction (`common.db.in_transaction`, retried on transient
errors) where the server has transactions. A crash after
step 1 leaves a final message with an open hold; `finish(...)` (from a redelivered task or the
reaper) completes steps 2-4 from the message alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from common import db, metrics
from common.chat.models import FINAL_STATUSES, ChatMessage, ChatSession
from common.errors import AppError
from common.streaming import channel
from common.users.models import User, utcnow
from common.users.snapshot import snapshot, snapshot_from_doc
from common.wallet import service as wallet

log = logging.getLogger(__name__)

CHARGED_STATUSES = ("done", "cancelled")


@dataclass
class Outcome:
    status: str  # done | cancelled | failed | interrupted
    content: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    charge: int = 0
    cost: float = 0.0
    last_seq: int = 0
    error: dict | None = None
    ttft_ms: float | None = None
    duration_ms: float | None = None
    tokens_per_second: float | None = None
    moderation_reason: str | None = None


def messages():
    return ChatMessage._get_collection()


def end(msg: ChatMessage, outcome: Outcome, claim: dict[str, Any]) -> ChatMessage | None:
    """Move `msg` (matching `claim`, e.g. its status and token) to `outcome`, then settle and
    publish. Returns the final message, or None if another runner had already ended it."""
    fields = _final_fields(outcome)

    def settle_all(session) -> tuple[ChatMessage, dict | None] | None:
        doc = messages().find_one_and_update(
            {"_id": msg.id, **claim},
            {"$set": fields, "$unset": {"claimToken": "", "prompt": ""}},
            return_document=True,
            session=session,
        )
        if doc is None:
            return None
        final = ChatMessage._from_son(doc)
        user_after = _close_hold(final, session)
        _apply_stats(final, session)
        return final, user_after

    ended = db.in_transaction(settle_all)
    if ended is None:
        return None
    final, user_after = ended
    metrics.answer_ended(final.modelId, outcome)
    _publish_final(final, user_after)
    return final


def finish(msg: ChatMessage) -> None:
    """Complete the settlement of an already-final message (idempotent: safe to repeat)."""
    if msg.status not in FINAL_STATUSES:
        raise ValueError(f"message {msg.id} is not final ({msg.status})")
    user_after = _close_hold(msg, None)
    _apply_stats(msg, None)
    _publish_final(msg, user_after)


def fail_unstarted(msg: ChatMessage, code: str, text: str, reason: str = "") -> ChatMessage | None:
    """Fail a message no worker has claimed (enqueue failed, or it waited too long)."""
    error = {"code": code, "message": text, "reason": reason[:300], "status": 503}
    return end(msg, Outcome("failed", error=error), {"status": "pending"})


def cancel_unstarted(msg: ChatMessage) -> ChatMessage | None:
    """Cancel a message no worker has claimed yet: nothing was generated, nothing is charged."""
    return end(msg, Outcome("cancelled"), {"status": "pending"})


def _final_fields(o: Outcome) -> dict[str, Any]:
    now = utcnow()
    fields: dict[str, Any] = {
        "status": o.status,
        "content": o.content,
        "usage": {
            "promptTokens": o.prompt_tokens,
            "completionTokens": o.completion_tokens,
            "totalTokens": o.prompt_tokens + o.completion_tokens,
        },
        "charged": o.charge if o.status in CHARGED_STATUSES else 0,
        "cost": o.cost,
        "lastSeq": o.last_seq,
        "completedAt": now,
        "updatedAt": now,
    }
    if o.error:
        fields["error"] = o.error
    for name, value in (
        ("ttftMs", o.ttft_ms),
        ("durationMs", o.duration_ms),
        ("tokensPerSecond", o.tokens_per_second),
    ):
        if value is not None:
            fields[name] = round(value, 3)
    if o.moderation_reason:  # the admin's flagged list reads these (source "provider")
        fields.update(
            {
                "moderation.flagged": True,
                "moderation.source": "provider",
                "moderation.reason": o.moderation_reason[:500],
                "moderation.flaggedAt": now,
            }
        )
    return fields


def _close_hold(msg: ChatMessage, session) -> dict | None:
    """Settle (or release) the message's hold; returns the user document if this call closed it.

    The user's usage counters ride on the wallet's hold-closing update, so they count exactly
    as often as the hold closes: once, whoever closes it (a rerun, the reaper, `apply_pending`).
    """
    key = str(msg.id)
    if msg.status in CHARGED_STATUSES:
        details = {
            "messageId": key,
            "sessionId": msg.sessionId,
            "modelId": msg.modelId,
            "status": msg.status,
            "usage": {"prompt": msg.usage.promptTokens, "completion": msg.usage.completionTokens},
        }
        usage = {
            "usage.totalRequests": 1,
            "usage.totalTokens": msg.usage.totalTokens,
            "usage.totalCost": msg.cost or 0.0,
        }
        result = wallet.settle(
            msg.userId,
            key,
            msg.charged,
            source="chat",
            details=details,
            session=session,
            also_inc=usage,
        )
        if result.charged != msg.charged:  # an earlier settlement of this key decided the amount
            messages().update_one(
                {"_id": msg.id}, {"$set": {"charged": result.charged}}, session=session
            )
            msg.charged = result.charged
        return result.user_after
    return wallet.release(msg.userId, key, reason=msg.status, session=session).user_after


def _apply_stats(msg: ChatMessage, session) -> None:
    """Count the answer's tokens and cost on its session, once (the user's: see `_close_hold`)."""
    if msg.status not in CHARGED_STATUSES:
        return
    flagged = messages().update_one(
        {"_id": msg.id, "statsApplied": {"$ne": True}},
        {"$set": {"statsApplied": True}},
        session=session,
    )
    if not flagged.modified_count:
        return
    now = utcnow()
    ChatSession._get_collection().update_one(
        {"sessionId": msg.sessionId},
        {
            "$inc": {"totalTokens": msg.usage.totalTokens, "totalCost": msg.cost or 0.0},
            "$set": {"lastMessageAt": now, "updatedAt": now},
        },
        session=session,
    )


def user_snapshot(user_id) -> dict | None:
    user = User.objects(id=user_id).first()
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
        return {
            "type": "done",
            "messageId": mid,
            "seq": seq,
            "content": msg.content,
            "usage": usage,
            "charged": msg.charged,
            "user": user,
        }
    if msg.status == "cancelled":
        return {
            "type": "cancelled",
            "messageId": mid,
            "seq": seq,
            "charged": msg.charged,
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


def _publish_final(msg: ChatMessage, user_after: dict | None = None) -> None:
    """The channel keeps only the first final frame, so publishing again is harmless; the
    check first only saves the user read that a frame without `user_after` needs."""
    if user_after is None and channel.has_final(str(msg.id)):
        return
    channel.publish_final(str(msg.id), final_frame_for(msg, user_after))
