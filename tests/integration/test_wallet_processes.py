"""The money invariants with several OS processes hitting one wallet on the shared nx-27017."""

from __future__ import annotations

import multiprocessing

import pytest

from common.users import service as users
from common.wallet import service as wallet
from common.wallet.models import LedgerEntry
from common.wallet.reconcile import reconcile
from tests.support import wallet_procs

PROCESSES = 6
CYCLES = 30


@pytest.fixture
def pool():
    with multiprocessing.get_context("spawn").Pool(PROCESSES) as p:
        yield p


@pytest.fixture
def poor_user(settings):
    """A user with 3,000 tokens left, so that the processes really compete for them."""
    user = users.register("poor@example.com", "correct-horse-1", "Poor")
    wallet.debit(user.id, 7_000, "setup-spend", "test", pools=("free",))
    return user


def _tokens(user) -> dict:
    return wallet._users().find_one({"_id": user.id})["tokens"]


def test_processes_reserving_and_settling_never_overdraw(pool, settings, poor_user):
    uri = settings.mongodb_uri
    jobs = [
        pool.apply_async(
            wallet_procs.reserve_settle_cycles, (uri, poor_user.id, n, CYCLES, 1000 + n)
        )
        for n in range(PROCESSES)
    ]
    outs = [job.get(timeout=240) for job in jobs]
    assert [o["negative"] for o in outs] == [[]] * PROCESSES
    charged = {k: v for o in outs for k, v in o["charged"].items()}
    assert sum(o["refused"] for o in outs) > 0, "the balance was meant to run out"
    # Every settled key has exactly one ledger entry, charging what its settle reported.
    # A raw `$regex` string: nx-27017 refuses the compiled pattern mongoengine's `__startswith` sends.
    entries = {e["key"]: -e["amount"] for e in wallet._ledger().find({"key": {"$regex": "^w"}})}
    assert entries == charged
    t = _tokens(poor_user)
    assert t["balance"] == 3_000 - sum(charged.values()) >= 0
    assert (t["reserved"], t["usedTokens"]) == (0, sum(charged.values()))
    assert reconcile() == []


def test_processes_settling_the_same_keys_charge_each_once(pool, settings):
    user = users.register("shared@example.com", "correct-horse-1", "Shared")
    keys = [f"msg-{n}" for n in range(20)]
    for key in keys:
        wallet.reserve(user.id, 400, key)
    uri = settings.mongodb_uri
    jobs = [
        pool.apply_async(wallet_procs.settle_keys, (uri, user.id, keys, 7 + n))
        for n in range(PROCESSES)
    ]
    credit_keys = [f"pay-{n}" for n in range(5)]
    credits = [
        pool.apply_async(wallet_procs.credit_keys, (uri, user.id, credit_keys)) for _ in range(3)
    ]
    results = [r for job in jobs for r in job.get(timeout=240)]
    applied_credits = [a for job in credits for a in job.get(timeout=240)]
    assert sum(applied_credits) == len(credit_keys)
    by_key: dict[str, list] = {}
    for key, charged, applied_now in results:
        by_key.setdefault(key, []).append((charged, applied_now))
    for key in keys:
        assert len({c for c, _ in by_key[key]}) == 1, (key, by_key[key])
        assert sum(a for _, a in by_key[key]) == 1, (key, by_key[key])
    total = sum(by_key[k][0][0] for k in keys)
    t = _tokens(user)
    assert (t["balance"], t["reserved"], t["usedTokens"]) == (10_000 + 500 - total, 0, total)
    assert LedgerEntry.objects(key__in=keys).count() == len(keys)
    assert reconcile() == []
