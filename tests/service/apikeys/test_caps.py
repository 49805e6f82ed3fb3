"""A key's token caps in Redis: holds count against them, unused tokens come back."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from common.apikeys import caps
from common.apikeys.errors import KeyCapReached
from common.apikeys.models import ApiKey

DAY = "2026-11-29"


def key(daily=None, monthly=None) -> ApiKey:
    from bson import ObjectId

    return ApiKey(id=ObjectId(), name="k", dailyTokenCap=daily, monthlyTokenCap=monthly)


def test_concurrent_holds_never_pass_the_cap():
    k = key(daily=1000)

    def take(_):
        try:
            caps.take(k, 300, DAY)
            return True
        except KeyCapReached:
            return False

    with ThreadPoolExecutor(10) as pool:
        taken = sum(pool.map(take, range(10)))
    assert taken == 3 and caps.used(str(k.id), DAY) == {"day": 900, "month": 900}


def test_refusal_counts_nothing_and_names_the_period():
    k = key(daily=10_000, monthly=500)
    caps.take(k, 400, DAY)
    with pytest.raises(KeyCapReached) as err:
        caps.take(k, 200, DAY)
    assert err.value.details["period"] == "month" and err.value.retry_after > 0
    assert caps.used(str(k.id), DAY) == {"day": 400, "month": 400}


def test_give_back_returns_what_was_not_charged():
    k = key(daily=500)
    caps.take(k, 500, DAY)
    caps.give_back(str(k.id), 480, DAY)  # the answer charged 20 of its 500-token hold
    caps.take(k, 480, DAY)
    assert caps.used(str(k.id), DAY)["day"] == 500


def test_uncapped_keys_count_nothing():
    k = key()
    caps.take(k, 10**9, DAY)
    caps.give_back(str(k.id), 10, DAY)
    assert caps.used(str(k.id), DAY) == {"day": 0, "month": 0}
