"""The daily request count lives in Redis as a cache: when its key is missing (a new day, or
Redis lost its data) it is rebuilt from MongoDB, so a wipe never reopens a spent allowance."""

from __future__ import annotations

from common.conversations.models import ChatMessage
from common.redis_client import get_redis
from common.sending.daily import daily_key, daily_used
from common.users.models import User
from tests.support.chatkit import FREE, FREE2
from tests.support.services import wait_for


def _send(api, models) -> int:
    return api.post("/api/chat", {"message": "count me", "models": models}).status_code


def _all_done() -> bool:
    """Every answer done and settled (no hold left open)."""
    answers = ChatMessage.objects(role="assistant")
    return all(m.status == "done" for m in answers) and not any(
        u.tokens.reserved for u in User.objects
    )


def test_a_redis_wipe_does_not_reopen_the_daily_limit(live, api, user):
    User.objects(id=user[0]["id"]).update_one(set__subscription__limits__requestsPerDay=3)
    assert _send(api, [FREE, FREE2]) == 202  # two requests
    assert _send(api, [FREE]) == 202  # three
    assert _send(api, [FREE]) == 429
    wait_for(_all_done, 60, what="the answers to finish")

    get_redis().flushdb()  # the test's private database: counts, buffers, the broker's keys
    res = api.post("/api/chat", {"message": "count me", "models": [FREE]})
    assert res.status_code == 429, res.json()
    assert res.json()["details"]["used"] == 3
    owner = User.objects.get(id=user[0]["id"])
    assert daily_used(owner) == 3  # rebuilt from today's answers, and the refusal uncounted


def test_the_first_count_of_the_day_starts_from_what_mongodb_has(live, api, user):
    """Today's key missing with answers already stored (as after a wipe): they are counted,
    and the send itself once."""
    owner = User.objects.get(id=user[0]["id"])
    assert _send(api, [FREE]) == 202
    wait_for(_all_done, 60, what="the answer to finish")
    get_redis().delete(daily_key(owner))
    assert _send(api, [FREE, FREE2]) == 202
    assert daily_used(owner) == 3
