"""Running one answer (DESIGN.md chat flow, steps 2-5): claim, stream, settle — exactly once.

`complete(message_id)` may run any number of times for one message (Celery delivers at least
once). It owns the message only if it both takes the Redis lease and wins the claim
pending → streaming (`common.engine.lease`). Any other run finds the message final (and finishes
its settlement if a crash cut it short), or streaming under a live lease (and stops), or
streaming under a dead lease (its runner died: interrupted).

The parts, in the order a run meets them: `lease` (ownership), `provider_call` (the request and
its retries), `publisher` (the chunks to clients), `outcomes` (the charge or the failure) and
`ending` (`settlement`: the stored end, the wallet, the stats; then `aftermath`: the
moderation flag, the key's caps, metrics, the final frame).
"""

from __future__ import annotations

import logging

from common.conversations.models import FINAL_STATUSES, ChatMessage
from common.engine import ending, lease, liveness, outage, outcomes
from common.engine.errors import SettlementDeferred
from common.engine.outcomes import Outcome
from common.engine.provider_call import candidates_for, stream_with_retries
from common.engine.run import Cancelled, Lost, Run
from common.errors import AppError, ServiceUnavailable
from common.providers.base import ALL_FAILURES, ProviderStreamError
from common.stored import object_id_or_none

log = logging.getLogger(__name__)

# The answers this process is running, by message id (a draining worker stops them).
running: dict[str, Run] = {}


def complete(message_id: str, hold: dict | None = None) -> str:
    """Run the answer for `message_id`; returns what happened (for logs and tests). `hold`: its
    wallet hold as the send placed it (`wallet.Hold.placed()`), so settling reads nothing first."""
    oid = object_id_or_none(message_id)
    if oid is None:
        return "missing"
    seconds = lease.seconds()
    token = lease.take(message_id, seconds)
    if token is None:
        return "owned-elsewhere"
    try:
        claimed = lease.claim(oid, token)  # the common case first: one round trip, no prior read
        if claimed is None:
            return _not_claimed(message_id, token)
        run = Run(claimed, token, hold=hold)
        running[message_id] = run
        with lease.Heartbeat(run, seconds):
            return _stream(run)
    finally:
        running.pop(message_id, None)
        lease.drop(message_id, token)


def _load(message_id: str) -> ChatMessage | None:
    oid = object_id_or_none(message_id)
    return ChatMessage.objects(id=oid).first() if oid else None


def _not_claimed(message_id: str, token: str) -> str:
    """We took the lease but the message was not pending: it is final, or it streams under a
    runner whose lease lapsed — dead, or only late (`liveness` decides)."""
    msg = _load(message_id)
    if msg is None:
        return "missing"
    if msg.status in FINAL_STATUSES:
        ending.finish(msg)
        return "already-final"
    # Let go first: a runner that is only late must find its lease free to take again.
    lease.drop(message_id, token)
    if not liveness.dead([msg]):
        return "owned-elsewhere"
    ending.interrupt(msg)
    return "interrupted"


def _stream(run: Run) -> str:
    try:
        candidates = outage.retrying(
            lambda: candidates_for(run.msg), f"preparing {run.mid}", outage.DB_TRANSIENT
        )
        stream_with_retries(run, candidates)
    except Cancelled:
        return _end(run, outcomes.charged(run, "cancelled"))
    except Lost:
        return "lost"
    except ALL_FAILURES as exc:
        return _end(run, outcomes.failed(run, exc))
    except AppError as exc:
        return _end(run, outcomes.failed(run, exc))
    except outage.OUR_DEPENDENCIES as exc:
        # Our own store failed past its retries: never blamed on the provider.
        log.warning("chat.complete %s: %s", run.mid, exc)
        error = ServiceUnavailable(
            "Our service had an outage during this answer. You were not charged; please retry.",
            {"reason": "dependency", "error": type(exc).__name__},
        )
        return _end(run, outcomes.failed(run, error))
    except Exception as exc:
        log.exception("chat.complete %s failed", run.mid)
        return _end(
            run, outcomes.failed(run, ProviderStreamError(details={"error": type(exc).__name__}))
        )
    return _end(run, outcomes.charged(run, "done"))


def _end(run: Run, outcome: Outcome) -> str:
    try:
        claim = {"status": "streaming", "claimToken": run.token}
        final = ending.end(run.msg, outcome, claim, hold=run.hold, lease_token=run.token)
    except SettlementDeferred:  # the database stayed down; the reaper applies the kept outcome
        return "deferred"
    return outcome.status if final is not None else "lost"
