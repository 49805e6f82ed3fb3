"""Work run inside spawned OS processes by the wallet concurrency tests (importable by name)."""

from __future__ import annotations

import random

from common import db
from common.errors import InsufficientTokens
from common.wallet import service as wallet


def _pools_ok(user_id) -> list[str]:
    doc = wallet._users().find_one({"_id": user_id}, {"tokens": 1})
    t = doc["tokens"]
    names = ("balance", "freeTokens", "purchasedTokens", "reserved")
    return [f"{n}={t[n]}" for n in names if t[n] < 0]


def reserve_settle_cycles(uri: str, user_id, worker: int, cycles: int, seed: int) -> dict:
    """Reserve a random amount, check, settle a random actual, check; `cycles` times."""
    db.connect(uri)
    rnd = random.Random(seed)
    out: dict = {"charged": {}, "refused": 0, "negative": []}
    for i in range(cycles):
        key = f"w{worker}-c{i}"
        amount = rnd.randint(50, 600)
        try:
            wallet.reserve(user_id, amount, key)
        except InsufficientTokens as exc:
            assert exc.available < amount
            out["refused"] += 1
            continue
        out["negative"] += _pools_ok(user_id)
        result = wallet.settle(user_id, key, rnd.randint(0, amount + 100))
        again = wallet.settle(user_id, key, amount)  # a redelivered task
        assert again.charged == result.charged and not again.applied_now
        out["charged"][key] = result.charged
        out["negative"] += _pools_ok(user_id)
    return out


def settle_keys(uri: str, user_id, keys: list[str], seed: int) -> list[tuple[str, int, bool]]:
    """Settle (or release) every key in a shuffled order, each with a random actual amount."""
    db.connect(uri)
    rnd = random.Random(seed)
    keys = list(keys)
    rnd.shuffle(keys)
    results = []
    for key in keys:
        if rnd.random() < 0.2:
            r = wallet.release(user_id, key)
        else:
            r = wallet.settle(user_id, key, rnd.randint(0, 500))
        results.append((key, r.charged, r.applied_now))
    return results


def credit_keys(uri: str, user_id, keys: list[str]) -> list[bool]:
    db.connect(uri)
    return [wallet.credit(user_id, 100, key, "test")[1] for key in keys]
