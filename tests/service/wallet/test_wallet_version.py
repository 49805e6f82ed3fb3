"""`walletVersion`: +1 in the same update as every wallet write, so snapshots can be ordered."""

from __future__ import annotations

import threading

import pytest

from common.admin import users as admin_users
from common.audit.service import Actor
from common.users import service as users
from common.users.snapshot import snapshot, snapshot_from_doc
from common.wallet import service as wallet
from common.wallet.reconcile import reconcile
from tests.support.http import auth


@pytest.fixture
def user(settings):
    return users.register("version@example.com", "correct-horse-1", "Version Owner")


def version(user) -> int:
    return wallet._users().find_one({"_id": user.id})["walletVersion"]


def test_every_kind_of_wallet_write_bumps_the_version_by_one(user):
    writes = [
        lambda: wallet.reserve(user.id, 100, "hold-a"),
        lambda: wallet.settle(user.id, "hold-a", 40),
        lambda: wallet.reserve(user.id, 100, "hold-b"),
        lambda: wallet.release(user.id, "hold-b", reason="test"),
        lambda: wallet.credit(user.id, 500, "credit-1", "test"),
        lambda: wallet.debit(user.id, 50, "debit-1", "test"),  # a hold and its settlement
        lambda: wallet.grant_free_tokens(user.id, 10_000),  # already granted: no write
    ]
    steps = [1, 1, 1, 1, 1, 2, 0]
    seen = [version(user)]
    assert seen[0] == 1  # the sign-up grant
    for write, step in zip(writes, steps, strict=True):
        write()
        seen.append(version(user))
        assert seen[-1] - seen[-2] == step, seen
    admin = Actor(id="admin", email="admin@example.com")
    admin_users.reset_free_tokens(admin, user.id, "r1")  # the credit and the reset date
    assert version(user) == seen[-1] + 2
    admin_users.grant_tokens(admin, user.id, 10, "because")
    admin_users.deduct_tokens(admin, user.id, 10, "because")
    assert version(user) == seen[-1] + 2 + 1 + 2
    assert reconcile() == []


def test_concurrent_holds_each_get_their_own_version(user):
    before = snapshot(users.get_user(user.id))
    results: list = []

    def hold(i: int) -> None:
        results.append(wallet.reserve(user.id, 10, f"c-{i}").user_after)

    threads = [threading.Thread(target=hold, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    versions = sorted(snapshot_from_doc(doc)["walletVersion"] for doc in results)
    start = before["walletVersion"]
    assert versions == list(range(start + 1, start + 17))  # distinct, none skipped
    # The snapshot taken after the most holds has the highest version, and its balance.
    newest = max(results, key=lambda d: d["walletVersion"])
    assert snapshot_from_doc(newest)["tokens"]["reserved"] == 160
    assert before["walletVersion"] < snapshot_from_doc(newest)["walletVersion"]
    for i in range(16):
        wallet.release(user.id, f"c-{i}")
    assert version(user) == start + 32
    assert reconcile() == []


def test_rest_and_auth_answers_carry_the_version(client, make_user):
    info, token = make_user(email="rest-version@example.com")
    assert info["walletVersion"] == 1
    me = client.get("/api/auth/me", headers=auth(token)).get_json()["data"]["user"]
    profile = client.get("/api/user/profile", headers=auth(token)).get_json()["data"]["user"]
    assert me["walletVersion"] == profile["walletVersion"] == 1
    wallet.credit(info["id"], 5, "rest-credit", "test")
    login = client.post(
        "/api/auth/login", json={"email": "rest-version@example.com", "password": "correct-horse-1"}
    ).get_json()["data"]["user"]
    assert login["walletVersion"] == 2
