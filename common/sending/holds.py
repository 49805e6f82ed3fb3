"""A send's wallet holds: one per model, keyed by the answer's message id, all or none."""

from __future__ import annotations

from common.errors import InsufficientTokens
from common.sending.planning import Plan
from common.users.models import User
from common.wallet import service as wallet


def hold_all(user: User, plans: list[Plan]) -> list[Plan]:
    """One hold per model; all or none (earlier holds are released if a later one fails).

    A shortfall is reported for the whole send: `required` is every model's hold together."""
    held: list[Plan] = []
    # The pools as just read; each hold's answer gives the next one's view (one round trip each).
    tokens = user.tokens
    seen = {"freeTokens": tokens.freeTokens or 0, "purchasedTokens": tokens.purchasedTokens or 0}
    try:
        for plan in plans:
            key = str(plan.message_id)  # a new ObjectId: nothing was ever held under it
            hold = wallet.reserve_new(
                user.id, plan.estimate, key, seen=seen, details={"kind": "chat"}
            )
            plan.user_after = hold.user_after
            plan.hold = hold.placed()
            seen = (hold.user_after or {}).get("tokens") or {}
            held.append(plan)
    except InsufficientTokens as exc:
        release_all(user, held, "insufficient tokens for another model")
        required = sum(p.estimate for p in plans)
        raise InsufficientTokens(
            required=required, available=exc.available + sum(p.estimate for p in held)
        ) from None
    except Exception:
        release_all(user, held, "send failed")
        raise
    return held


def release_all(user: User, plans: list[Plan], reason: str) -> None:
    for plan in plans:
        wallet.release(user.id, str(plan.message_id), reason=reason)
