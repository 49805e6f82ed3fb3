"""What follows an answer's settlement, each step on its own, none of them money.

1. **The provider's moderation refusal** is flagged for the admins (`common.moderation`).
   Settlement marks such a message `moderationPending` (the reason); this step sets the flag,
   then clears the mark. Repeating it writes the same flag; a crash before the mark is cleared leaves it
   for the reaper (`flag_pending`). Rare: only answers a provider refused.
2. **The API key's caps** get back what its hold counted beyond the charge
   (`common.apikeys.caps`). Only the runner that won the settlement's first step runs it
   (`ended=True`), so it happens at most once; a crash before it leaves the counters high: the
   key is limited early, never late, until the period's counter expires.
3. **Metrics** of the answer: counted by that same runner only (a crash loses a sample, never
   money).
4. **The final frame**: the channel keeps only the first (`frames.publish_final`); Redis being
   down marks the message `finalPending` for the reaper.
"""

from __future__ import annotations

import logging

from common import metrics
from common.apikeys import caps
from common.conversations.models import ChatMessage
from common.engine import frames, outage
from common.engine.outcomes import Outcome
from common.engine.settlement import Settled
from common.moderation import service as moderation

log = logging.getLogger(__name__)


def follow(
    settled: Settled,
    outcome: Outcome | None = None,
    *,
    ended: bool = False,
    lease_token: str | None = None,
) -> None:
    """Run the steps after `settled`. `ended`: this call's runner won the settlement (steps 2
    and 3 run only then); `outcome`: what it ended with (for the metrics' timings);
    `lease_token`: the ending run's lease, dropped with the final frame."""
    msg = settled.message
    if msg.moderationPending:
        _flag(msg)
    if ended:
        if msg.apiKeyId and msg.keyCapped is not False:  # an uncapped key counted nothing
            _give_back_key_cap(msg)
        if outcome is not None:
            metrics.answer_ended(msg.modelId, outcome)
    frames.publish_final(msg, settled.user_after, lease_token)


def _flag(msg: ChatMessage) -> None:
    reason = msg.moderationPending or "refused by provider"

    def flag_then_clear():
        moderation.flag_from_provider(msg.id, reason)
        ChatMessage._get_collection().update_one(
            {"_id": msg.id}, {"$unset": {"moderationPending": ""}}
        )

    try:
        outage.retrying(flag_then_clear, f"flagging {msg.id}", outage.DB_TRANSIENT)
    except outage.DB_TRANSIENT:  # the mark stays: the reaper flags it later
        log.warning("provider's moderation flag of %s left to the reaper", msg.id)


def flag_pending() -> int:
    """Flag every message a crash or an outage left `moderationPending` (the reaper's sweep)."""
    pending = list(ChatMessage.objects(moderationPending=True))
    for msg in pending:
        _flag(msg)
    return len(pending)


def _give_back_key_cap(msg: ChatMessage) -> None:
    """An API key's caps counted the hold; give back what was not charged."""
    try:
        caps.give_back(msg.apiKeyId, (msg.reserved or 0) - (msg.charged or 0), msg.day)
    except Exception:  # the counters stay high: the key is limited early, never late
        log.warning("could not give back the key cap of %s", msg.id, exc_info=True)
