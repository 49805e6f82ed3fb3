"""A key's daily and monthly token caps, counted in Redis.

A send through a capped key first takes its hold's size from the key's counters for the UTC day
and month (one Lua script: refused, with nothing counted, if either would pass its cap). When the
answer ends, `settle` gives back what the hold did not charge. So a key never spends past its
cap, even with many answers in flight. If the process dies between the end and `settle`, the
counters stay higher than spent: the key is limited early, never late, and the counters expire
with their period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from common.apikeys.errors import KeyCapReached
from common.apikeys.models import ApiKey
from common.redis_client import get_redis

# KEYS: day counter, month counter. ARGV: amount, day cap (0 = none), month cap, day ttl, month ttl
_TAKE = """
local amount = tonumber(ARGV[1])
local day = tonumber(redis.call('GET', KEYS[1]) or '0')
local month = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[2]) > 0 and day + amount > tonumber(ARGV[2]) then return {1, day} end
if tonumber(ARGV[3]) > 0 and month + amount > tonumber(ARGV[3]) then return {2, month} end
redis.call('INCRBY', KEYS[1], amount)
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('INCRBY', KEYS[2], amount)
redis.call('EXPIRE', KEYS[2], ARGV[5])
return {0, 0}
"""

DAY_TTL = 2 * 86400
MONTH_TTL = 33 * 86400


def _counter(key_id: str, period: str) -> str:
    return f"aipasta:apikey:spend:{key_id}:{period}"


def capped(key: ApiKey) -> bool:
    return bool(key.dailyTokenCap or key.monthlyTokenCap)


def take(key: ApiKey, amount: int, day: str) -> None:
    """Count `amount` tokens (a hold) against the key's caps for `day` ("YYYY-MM-DD"), or raise
    `KeyCapReached` (429) without counting anything."""
    if not capped(key):
        return
    kid = str(key.id)
    keys = [_counter(kid, day), _counter(kid, day[:7])]
    args = [int(amount), key.dailyTokenCap or 0, key.monthlyTokenCap or 0, DAY_TTL, MONTH_TTL]
    which, used = get_redis().eval(_TAKE, 2, *keys, *args)
    if which == 0:
        return
    period, cap = ("day", key.dailyTokenCap) if which == 1 else ("month", key.monthlyTokenCap)
    left = max(0, int(cap) - int(used))
    raise KeyCapReached(
        f"This API key reached its {'daily' if period == 'day' else 'monthly'} cap of {cap} "
        f"tokens ({left} left; this request may need up to {amount}). Lower max_tokens or wait "
        "for the cap to reset.",
        {"period": period, "cap": cap, "used": int(used), "requested": int(amount)},
        _seconds_until_reset(period),
    )


def give_back(key_id: str, amount: int, day: str) -> None:
    """Return `amount` tokens to the key's counters for `day` (a hold that charged less)."""
    if amount <= 0:
        return
    pipe = get_redis().pipeline(transaction=False)
    for counter in (_counter(key_id, day), _counter(key_id, day[:7])):
        # Only counters that exist: an uncapped key (or an expired period) has nothing to return.
        pipe.eval(
            "if redis.call('EXISTS', KEYS[1]) == 1 then "
            "return redis.call('DECRBY', KEYS[1], ARGV[1]) end return 0",
            1,
            counter,
            int(amount),
        )
    pipe.execute()


def used(key_id: str, day: str) -> dict[str, int]:
    today, month = get_redis().mget(_counter(key_id, day), _counter(key_id, day[:7]))
    return {"day": int(today or 0), "month": int(month or 0)}


@dataclass(frozen=True)
class Headroom:
    """What is left under a key's tighter cap (`x-ratelimit-*-tokens` on `/v1`)."""

    cap: int
    remaining: int
    reset_seconds: int


def headroom(key: ApiKey, now: datetime | None = None) -> Headroom | None:
    """The cap (daily or monthly) with the fewest tokens left, or None for an uncapped key.
    Holds of answers in flight count as spent until they settle."""
    if not capped(key):
        return None
    now = now or datetime.now(UTC)
    day = now.strftime("%Y-%m-%d")
    spent = used(str(key.id), day)
    rooms = [
        Headroom(int(cap), max(0, int(cap) - spent[period]), _seconds_until_reset(period, now))
        for period, cap in (("day", key.dailyTokenCap), ("month", key.monthlyTokenCap))
        if cap
    ]
    return min(rooms, key=lambda r: (r.remaining, -r.reset_seconds))


def _seconds_until_reset(period: str, now: datetime | None = None) -> int:
    now = now or datetime.now(UTC)
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        end = start + timedelta(days=1)
    else:
        end = (start.replace(day=1) + timedelta(days=32)).replace(day=1)
    return max(1, int((end - now).total_seconds()) + 1)
