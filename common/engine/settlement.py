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

Outages: steps 1-3 are retried on transient database errors for up to `OUTAGE_RETRY_SECONDS`
(step 1 marks the message with this call's `endedBy`, so a retry whose earlier attempt went
through recognises it). If the database is still down, the outcome is kept in Redis for the
reaper, which ends the message with it (never by interrupting it), and `SettlementDeferred` is
raised. Step 4 is retried the same way on Redis errors; if Redis stays down the message is
marked `finalPending` and the reaper publishes its final frame later.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from common import db, metrics
from common.apikeys import caps
from common.apikeys import service as apikeys
from common.conversations.models import FINAL_STATUSES, ChatMessage, ChatSession
from common.engine import outage
from common.engine.errors import SettlementDeferred, error_record
from common.errors import AppError
from common.moderation import service as moderation
from common.stored import utcnow
from common.streaming import channel
from common.users import service as users
from common.users.snapshot import snapshot, snapshot_from_doc
from common.wallet import pricing
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
    estimated: bool = False  # the provider reported no usage; the counts are our estimate
    provider_cost: float | None = None  # the provider's own reported cost (USD), if sent


def messages():
    return ChatMessage._get_collection()


def end(msg: ChatMessage, outcome: Outcome, claim: dict[str, Any]) -> ChatMessage | None:
    """Move `msg` (matching `claim`, e.g. its status and token) to `outcome`, then settle and
    publish. Returns the final message, or None if another runner had already ended it."""
    token = uuid.uuid4().hex
    fields = {**_final_fields(outcome), **_receipt_fields(msg, outcome), "endedBy": token}

    def settle_all(session) -> tuple[ChatMessage, dict | None] | None:
        doc = messages().find_one_and_update(
            {"_id": msg.id, **claim},
            {"$set": fields, "$unset": {"claimToken": "", "prompt": ""}},
            return_document=True,
            session=session,
        )
        if doc is None:  # ended by someone else — or by an earlier try whose reply was lost
            doc = messages().find_one({"_id": msg.id, "endedBy": token}, session=session)
            if doc is None:
                return None
        if outcome.moderation_reason:  # the admin's flagged list shows it (source "provider")
            moderation.flag_from_provider(msg.id, outcome.moderation_reason, session)
        final = ChatMessage._from_son(doc)
        user_after = _close_hold(final, session)
        _apply_stats(final, session)
        return final, user_after

    try:
        ended = outage.retrying(
            lambda: db.in_transaction(settle_all), f"settling {msg.id}", outage.DB_TRANSIENT
        )
    except outage.DB_TRANSIENT as exc:
        _defer(msg, outcome, claim)
        raise SettlementDeferred(details={"messageId": str(msg.id)}) from exc
    if ended is None:
        return None
    final, user_after = ended
    if final.apiKeyId:
        _give_back_key_cap(final)
    metrics.answer_ended(final.modelId, outcome)
    _publish_final(final, user_after)
    return final


def _defer(msg: ChatMessage, outcome: Outcome, claim: dict[str, Any]) -> None:
    """Keep an outcome the database would not take where the reaper looks for it."""
    log.error("settlement of %s deferred to the reaper: the database stayed down", msg.id)
    stash = {"outcome": dataclasses.asdict(outcome), "claim": claim}
    try:
        outage.retrying(
            lambda: channel.stash_outcome(str(msg.id), stash),
            f"keeping the outcome of {msg.id}",
            outage.REDIS_TRANSIENT,
        )
    except outage.REDIS_TRANSIENT:
        log.error("outcome of %s lost: Redis is down too; the reaper will interrupt it", msg.id)


def end_stashed(msg: ChatMessage) -> ChatMessage | None:
    """End `msg` with an outcome a runner stashed when the database was down (None if none)."""
    stash = channel.stashed_outcome(str(msg.id))
    if stash is None:
        return None
    final = None
    if msg.status not in FINAL_STATUSES:
        final = end(msg, Outcome(**stash["outcome"]), stash["claim"])
    channel.drop_outcome(str(msg.id))
    return final or ChatMessage.objects(id=msg.id).first()


def finish(msg: ChatMessage) -> None:
    """Complete the settlement of an already-final message (idempotent: safe to repeat)."""
    if msg.status not in FINAL_STATUSES:
        raise ValueError(f"message {msg.id} is not final ({msg.status})")

    def close():
        user_after = _close_hold(msg, None)
        _apply_stats(msg, None)
        return user_after

    user_after = outage.retrying(close, f"finishing {msg.id}", outage.DB_TRANSIENT)
    _publish_final(msg, user_after)


def fail_unstarted(msg: ChatMessage, exc: AppError, reason: str = "") -> ChatMessage | None:
    """Fail a message no worker has claimed (enqueue failed, or it waited too long)."""
    error = error_record(exc, reason=reason[:300])
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
    return fields


def _receipt_fields(msg: ChatMessage, o: Outcome) -> dict[str, Any]:
    """The receipt of a charged answer, at the rates stored on it at send time. Its free /
    purchased split is filled in once the wallet has decided it (`_close_hold`)."""
    if o.status not in CHARGED_STATUSES:
        return {}
    charge = pricing.Charge(o.prompt_tokens, o.completion_tokens, o.estimated, o.charge)
    fields = {"receipt": pricing.receipt(charge, pricing.stored_rates(msg.rates), o.provider_cost)}
    if o.provider_cost is not None:
        fields["providerCost"] = o.provider_cost
    return fields


def _give_back_key_cap(msg: ChatMessage) -> None:
    """An API key's caps counted the hold; give back what was not charged (see
    `common.apikeys.caps`). Runs once: only the runner that ended the message gets here."""
    try:
        caps.give_back(msg.apiKeyId, (msg.reserved or 0) - (msg.charged or 0), msg.day)
    except Exception:  # the counters stay high: the key is limited early, never late
        log.warning("could not give back the key cap of %s", msg.id, exc_info=True)


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
            "rates": dict(msg.rates) if msg.rates else None,  # the entry explains its amount
        }
        if msg.apiKeyId:
            details["apiKeyId"] = msg.apiKeyId
        usage = {
            "usage.totalRequests": 1,
            "usage.totalTokens": msg.usage.totalTokens,
            "usage.totalCost": msg.cost or 0.0,
        }
        result = wallet.settle(
            msg.userId,
            key,
            msg.charged,
            source="api" if msg.apiKeyId else "chat",
            details=details,
            session=session,
            also_inc=usage,
        )
        # The wallet's answer stands (an earlier settlement of this key may have decided it); it
        # is stored with the stats flag (`_apply_stats`), so exactly once.
        msg.charged = result.charged
        if msg.receipt is not None:
            split = {"fromFree": result.from_free, "fromPurchased": result.from_purchased}
            msg.receipt = {**msg.receipt, "charged": result.charged, **split}
        return result.user_after
    return wallet.release(msg.userId, key, reason=msg.status, session=session).user_after


def _apply_stats(msg: ChatMessage, session) -> None:
    """Count the answer's tokens and cost on its session, once (the user's: see `_close_hold`)."""
    if msg.status not in CHARGED_STATUSES:
        return
    flagged = messages().update_one(
        {"_id": msg.id, "statsApplied": {"$ne": True}},
        {"$set": {"statsApplied": True, "charged": msg.charged, "receipt": msg.receipt}},
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
    if msg.apiKeyId:
        apikeys.note_spend(msg.apiKeyId, msg.charged, session)


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
        return {
            "type": "done",
            "messageId": mid,
            "seq": seq,
            "content": msg.content,
            "usage": usage,
            "charged": msg.charged,
            "receipt": msg.receipt,
            "user": user,
        }
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


def _publish_final(msg: ChatMessage, user_after: dict | None = None) -> None:
    """Publish the final frame, retrying through a Redis outage; if Redis stays down, mark
    the message `finalPending` for the reaper (the final state itself is already stored)."""
    try:
        outage.retrying(lambda: publish_final_once(msg, user_after), f"final frame of {msg.id}")
    except outage.TRANSIENT:
        log.error("final frame of %s not published; the reaper will publish it", msg.id)
        outage.retrying(
            lambda: messages().update_one({"_id": msg.id}, {"$set": {"finalPending": True}}),
            f"marking {msg.id} finalPending",
            outage.DB_TRANSIENT,
        )


def publish_final_once(msg: ChatMessage, user_after: dict | None = None) -> None:
    """The channel keeps only the first final frame, so publishing again is harmless; the
    check first only saves the user read that a frame without `user_after` needs."""
    if user_after is None and channel.has_final(str(msg.id)):
        return
    channel.publish_final(str(msg.id), final_frame_for(msg, user_after))
