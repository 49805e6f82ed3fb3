"""Ending an answer: settle it (`settlement`: the message, the wallet, the stats), then what
follows (`aftermath`: the moderation flag, the key's caps, metrics, the final frame).

Every way an answer ends goes through here: a run's own end (`completion`), a cancel before any
worker claimed it, a failure to start, an interrupted run whose runner is gone (the reaper, the
web watchdog, cancel, a draining worker), and the completion of a settlement a crash cut short.
"""

from __future__ import annotations

import json
from typing import Any

from common.conversations.models import FINAL_STATUSES, ChatMessage
from common.engine import aftermath, outcomes, settlement
from common.engine.errors import error_record
from common.engine.outcomes import Outcome
from common.errors import AppError
from common.streaming import channel


def end(
    msg: ChatMessage,
    outcome: Outcome,
    claim: dict[str, Any],
    hold: dict | None = None,
    lease_token: str | None = None,
) -> ChatMessage | None:
    """Move `msg` (matching `claim`) to `outcome`, settle and follow up. Returns the final
    message, or None if another runner had already ended it. `hold`: its wallet hold as placed,
    when the caller knows it (`settlement.settle`); `lease_token`: the ending run's lease,
    dropped with the final frame."""
    settled = settlement.settle(msg, outcome, claim, hold)
    if settled is None:
        return None
    aftermath.follow(settled, outcome, ended=True, lease_token=lease_token)
    return settled.message


def finish(msg: ChatMessage) -> None:
    """Complete the ending of an already-final message (idempotent: safe to repeat)."""
    aftermath.follow(settlement.settle_again(msg))


def fail_unstarted(msg: ChatMessage, exc: AppError, reason: str = "") -> ChatMessage | None:
    """Fail a message no worker has claimed (enqueue failed, or it waited too long)."""
    error = error_record(exc, reason=reason[:300])
    return end(msg, Outcome("failed", error=error), {"status": "pending"})


def cancel_unstarted(msg: ChatMessage) -> ChatMessage | None:
    """Cancel a message no worker has claimed yet: nothing was generated, nothing is charged."""
    return end(msg, Outcome("cancelled"), {"status": "pending"})


def end_stashed(msg: ChatMessage) -> ChatMessage | None:
    """End `msg` with an outcome a runner stashed when the database was down (None if none)."""
    kept = settlement.stashed(msg)
    if kept is None:
        return None
    final = None
    if msg.status not in FINAL_STATUSES:
        final = end(msg, *kept)
    channel.drop_outcome(str(msg.id))
    return final or ChatMessage.objects(id=msg.id).first()


def interrupt(msg: ChatMessage) -> ChatMessage | None:
    """End a streaming message whose runner is gone (`liveness` said so, or its own worker is
    draining): not charged, client told — unless the runner left an outcome it could not store
    (the database was down): that one is applied."""
    stashed = end_stashed(msg)
    if stashed is not None:
        return stashed
    mid = str(msg.id)
    outcome = outcomes.interrupted("".join(_buffered_deltas(mid)), channel.chunk_count(mid))
    return end(msg, outcome, {"status": "streaming", "attempts": msg.attempts})


def _buffered_deltas(mid: str) -> list[str]:
    out = []
    for raw in channel.buffered(mid):
        frame = json.loads(raw)
        if frame.get("type") == "chunk":
            out.append(frame.get("delta", ""))
    return out
