"""Settling an answer: the message's final state, the wallet, the stats — and nothing else.

The assistant message itself is the settlement record. Settling is, in this order:

1. one conditional update moves the message from `streaming` (owned by this run's claim token)
   or `pending` to its final status, with content, usage and the amount to charge — only one
   runner can ever win it;
2. the wallet hold keyed by the message id is settled for that amount (or released) — the wallet
   is idempotent by key, so settling it again charges nothing more;
3. session stats, guarded by a `statsApplied` flag on the message so they count once (the
   user's usage counters and an API key's spend ride on step 2's hold-closing update, so they
   too count once).

When the run knows its hold as the send placed it (it travels with the task), step 2 reads
nothing first, and step 1 already writes the charge and its free/purchased split as the wallet
will decide them (a charge never exceeds its hold, free tokens first). An API request's record
(`kind: "api"`) has no session: its step 1 also marks it `statsApplied`, so a settlement costs
the message's update, the ledger entry and the user's update — unless the wallet's answer
differs (an earlier settlement of the key decided it), which step 3 then stores.

Steps 1-3 run inside one transaction (`common.db.in_transaction`, retried on transient
errors) where the server has transactions. A crash after step 1 leaves a final message with an
open hold; `settle_again(msg)` (from a redelivered task or the reaper) completes steps 2-3 from
the message alone. What follows a settlement — the provider's moderation flag, the API key's
caps, metrics, the final frame — is `aftermath`'s, each step on its own and safe to repeat;
`ending` puts the two together.

Outages: steps 1-3 are retried on transient database errors for up to `OUTAGE_RETRY_SECONDS`
(step 1 marks the message with this call's `endedBy`, so a retry whose earlier attempt went
through recognises it). If the database is still down, the outcome is kept in Redis for the
reaper, which ends the message with it (never by interrupting it), and `SettlementDeferred` is
raised.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from common import db
from common.apikeys import service as apikeys
from common.conversations.models import FINAL_STATUSES, ChatMessage, ChatSession
from common.engine import outage
from common.engine.errors import SettlementDeferred
from common.engine.outcomes import Outcome
from common.stored import utcnow
from common.streaming import channel
from common.wallet import pricing
from common.wallet import service as wallet

log = logging.getLogger(__name__)

CHARGED_STATUSES = ("done", "cancelled")


@dataclass(frozen=True)
class Settled:
    message: ChatMessage  # final, with the wallet's charge and split on its receipt
    user_after: dict | None  # the user document after the hold closed (None if it was closed)


def messages():
    return ChatMessage._get_collection()


def settle(
    msg: ChatMessage, outcome: Outcome, claim: dict[str, Any], hold: dict | None = None
) -> Settled | None:
    """Move `msg` (matching `claim`, e.g. its status and token) to `outcome`, settle its hold
    and count its stats. None if another runner had already ended it. `hold`: the hold as the
    send placed it (`wallet.Hold.placed()`), if known."""
    token = uuid.uuid4().hex
    fields = {**_final_fields(outcome), **_receipt_fields(msg, outcome), "endedBy": token}
    if outcome.model_id and outcome.model_id != msg.modelId:  # a fallback answered
        fields.update(modelId=outcome.model_id, rates=outcome.rates, requestedModelId=msg.modelId)
    if hold is not None:
        fields.update(_decided_charge(fields, hold))
        if msg.kind == "api":
            fields["statsApplied"] = True  # no session; the rest rides on the hold's closing

    def settle_all(session) -> Settled | None:
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
        final = ChatMessage._from_son(doc)
        written = (final.charged, final.receipt)
        user_after = _close_hold(final, session, hold)
        _apply_stats(final, session, decided=(final.charged, final.receipt) == written)
        return Settled(final, user_after)

    try:
        return outage.retrying(
            lambda: db.in_transaction(settle_all), f"settling {msg.id}", outage.DB_TRANSIENT
        )
    except outage.DB_TRANSIENT as exc:
        _defer(msg, outcome, claim)
        raise SettlementDeferred(details={"messageId": str(msg.id)}) from exc


def settle_again(msg: ChatMessage) -> Settled:
    """Complete the settlement of an already-final message (idempotent: safe to repeat)."""
    if msg.status not in FINAL_STATUSES:
        raise ValueError(f"message {msg.id} is not final ({msg.status})")

    def close():
        user_after = _close_hold(msg, None)
        _apply_stats(msg, None)
        return Settled(msg, user_after)

    return outage.retrying(close, f"finishing {msg.id}", outage.DB_TRANSIENT)


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


def stashed(msg: ChatMessage) -> tuple[Outcome, dict] | None:
    """The outcome (and claim) a runner stashed for `msg` when the database was down."""
    stash = channel.stashed_outcome(str(msg.id))
    if stash is None:
        return None
    return Outcome(**stash["outcome"]), stash["claim"]


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
    if o.tool_calls:
        fields["toolCalls"] = o.tool_calls
    if o.finish_reason:
        fields["finishReason"] = o.finish_reason
    if o.moderation_reason:  # `aftermath` flags it for the admins, then clears this
        fields["moderationPending"] = o.moderation_reason
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
    rates = pricing.stored_rates(o.rates or msg.rates)
    fields = {"receipt": pricing.receipt(charge, rates, o.provider_cost)}
    if o.provider_cost is not None:
        fields["providerCost"] = o.provider_cost
    return fields


def _decided_charge(fields: dict[str, Any], hold: dict) -> dict[str, Any]:
    """The charge and its split as the wallet will decide them for this hold (`wallet.settle`:
    capped at the hold, free tokens first), to be written with the message's final state."""
    if fields.get("receipt") is None:
        return {}
    charged = max(0, min(int(fields["charged"]), int(hold["amount"])))
    from_free = min(charged, int(hold["free"]))
    split = {"charged": charged, "fromFree": from_free, "fromPurchased": charged - from_free}
    return {"charged": charged, "receipt": {**fields["receipt"], **split}}


def _close_hold(msg: ChatMessage, session, hold: dict | None = None) -> dict | None:
    """Settle (or release) the message's hold; returns the user document if this call closed it.

    The user's usage counters (and an API key's spend, under `usage.apiKeys.<key id>`) ride on
    the wallet's hold-closing update, so they count exactly as often as the hold closes: once,
    whoever closes it (a rerun, the reaper, `apply_pending`).
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
            # What usage reports read (common/accounts/usage.py): the ledger outlives messages.
            "tokens": msg.usage.totalTokens,
            "cost": msg.cost or 0.0,
        }
        if msg.apiKeyId:
            details["apiKeyId"] = msg.apiKeyId
        usage = {
            "usage.totalRequests": 1,
            "usage.totalTokens": msg.usage.totalTokens,
            "usage.totalCost": msg.cost or 0.0,
        }
        if msg.apiKeyId:
            usage |= apikeys.spend_counters(msg.apiKeyId, min(msg.charged, msg.reserved or 0))
        result = wallet.settle(
            msg.userId,
            key,
            msg.charged,
            source="api" if msg.apiKeyId else "chat",
            details=details,
            session=session,
            also_inc=usage,
            hold=hold,
        )
        # The wallet's answer stands (an earlier settlement of this key may have decided it); it
        # is stored with the stats flag (`_apply_stats`), so exactly once.
        msg.charged = result.charged
        if msg.receipt is not None:
            split = {"fromFree": result.from_free, "fromPurchased": result.from_purchased}
            msg.receipt = {**msg.receipt, "charged": result.charged, **split}
        return result.user_after
    released = wallet.release(msg.userId, key, reason=msg.status, session=session, hold=hold)
    return released.user_after


def _apply_stats(msg: ChatMessage, session, decided: bool = False) -> None:
    """Count the answer's tokens and cost on its session, once (the user's and an API key's:
    see `_close_hold`), and store the wallet's charge and split with the flag. `decided`: the
    message's final update already holds the wallet's answer."""
    if msg.status not in CHARGED_STATUSES:
        return
    if msg.kind == "api":  # no session: only the wallet's answer, if step 1 did not have it
        if not decided or not msg.statsApplied:
            charge = {"charged": msg.charged, "receipt": msg.receipt, "statsApplied": True}
            messages().update_one({"_id": msg.id}, {"$set": charge}, session=session)
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
