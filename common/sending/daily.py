"""The plan's requests per day: one provider request per model of a send, counted in Redis.

Redis is a cache of the count: when today's key is missing — the day's first send, or Redis
lost its data — it is rebuilt from MongoDB (today's answers), so a wiped Redis never reopens a
spent allowance. Days are UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bson import ObjectId

from common.conversations.models import ChatMessage
from common.errors import DailyLimit
from common.redis_client import get_redis
from common.users.models import User

KEY_SECONDS = 2 * 86400


def daily_key(user: User) -> str:
    return f"aipasta:daily:{user.id}:{datetime.now(UTC):%Y-%m-%d}"


def count(user: User, n: int, exclude: set[ObjectId]) -> int:
    """Count `n` requests against today's allowance, atomically, or raise `DailyLimit` (and
    count nothing); returns how many it counted. `exclude`: this send's own answer ids, which
    a rebuild from MongoDB must not count twice."""
    limit = int(user.subscription.limits.requestsPerDay or 0)
    key = daily_key(user)
    pipe = get_redis().pipeline()
    pipe.set(key, 0, nx=True, ex=KEY_SECONDS)
    pipe.incrby(key, n)
    pipe.expire(key, KEY_SECONDS)
    created, used, _ = pipe.execute()
    if created:
        earlier = _requests_today(user, exclude)
        if earlier:
            used = get_redis().incrby(key, earlier)
    if limit and used > limit:
        get_redis().decrby(key, n)
        raise DailyLimit(
            f"You reached your plan's {limit} requests for today. Upgrade or come back tomorrow.",
            {"limit": limit, "used": used - n, "requested": n},
        )
    return n


def _requests_today(user: User, exclude: set[ObjectId]) -> int:
    """Today's (UTC) answers of this user in MongoDB, not counting this send's own.

    `userId__in`: nx-27017 matches an ObjectId field other than `_id` only through `$in`."""
    start = datetime.combine(datetime.now(UTC).date(), datetime.min.time(), UTC)
    ids = ChatMessage.objects(userId__in=[user.id], createdAt__gte=start, role="assistant")
    return sum(1 for oid in ids.scalar("id") if oid not in exclude)


def uncount(user: User, n: int) -> None:
    if n:
        get_redis().decrby(daily_key(user), n)


def daily_used(user: User) -> int:
    return int(get_redis().get(daily_key(user)) or 0)
