"""The one-round-trip paths the chat flow uses: fresh-key holds with a hint, and usage counters
that ride on the hold-closing update (counted once, whoever closes the hold)."""

from __future__ import annotations

import pytest
from bson import ObjectId

from common.errors import InsufficientTokens
from common.users import service as users
from common.wallet import service as wallet
from common.wallet.reconcile import reconcile

USAGE = {"usage.totalRequests": 1, "usage.totalTokens": 321, "usage.totalCost": 0.5}


@pytest.fixture
def user(settings):
    return users.register("fast@example.com", "correct-horse-1", "Fast Path")


def doc(user) -> dict:
    return wallet._users().find_one({"_id": user.id})


def test_fresh_hold_with_hint_returns_the_user_after_the_hold(user):
    key = str(ObjectId())
    hold = wallet.reserve_new(user.id, 1_000, key, seen=doc(user)["tokens"])
    assert (hold.amount, hold.free, hold.purchased) == (1_000, 1_000, 0)
    assert hold.user_after["tokens"]["balance"] == 9_000
    assert hold.user_after["tokens"]["reserved"] == 1_000
    assert doc(user)["tokens"]["balance"] == 9_000
    assert reconcile() == []


def test_a_stale_hint_never_spends_purchased_tokens_while_free_ones_remain(user):
    """A hint claiming fewer free tokens than there are (the socket's copy of the user from
    before an answer settled and gave tokens back) must not move the charge to the purchased
    pool: free tokens are spent first."""
    wallet.credit(user.id, 5_000, "buy-1", "test")
    stale = {"freeTokens": 100, "purchasedTokens": 5_000}
    hold = wallet.reserve_new(user.id, 1_000, str(ObjectId()), seen=stale)
    assert (hold.free, hold.purchased) == (1_000, 0)
    assert doc(user)["tokens"]["purchasedTokens"] == 5_000
    assert reconcile() == []


def test_a_stale_hint_never_overdraws(user):
    """A hint claiming more free tokens than there are is refused by the update's conditions."""
    stale = {"freeTokens": 10_000, "purchasedTokens": 0}
    wallet.reserve_new(user.id, 9_500, str(ObjectId()), seen=stale)
    with pytest.raises(InsufficientTokens) as info:
        wallet.reserve_new(user.id, 1_000, str(ObjectId()), seen=stale)
    assert info.value.available == 500
    assert doc(user)["tokens"]["freeTokens"] == 500
    assert reconcile() == []


def test_a_stale_hint_with_a_different_split_retries_with_fresh_numbers(user):
    wallet.credit(user.id, 2_000, "buy-1", "test")
    wallet.reserve(user.id, 9_000, str(ObjectId()))  # free pool down to 1,000
    hint = {"freeTokens": 10_000, "purchasedTokens": 2_000}  # as read before that hold
    hold = wallet.reserve_new(user.id, 2_500, str(ObjectId()), seen=hint)
    assert (hold.free, hold.purchased) == (1_000, 1_500)  # free first, from the real pools
    t = doc(user)["tokens"]
    assert (t["freeTokens"], t["purchasedTokens"]) == (0, 500)
    assert reconcile() == []


def test_usage_counters_ride_on_the_settlement_once(user):
    key = str(ObjectId())
    wallet.reserve_new(user.id, 1_000, key, seen=doc(user)["tokens"])
    first = wallet.settle(user.id, key, 400, also_inc=USAGE)
    again = wallet.settle(user.id, key, 400, also_inc=USAGE)
    assert (first.charged, first.applied_now, again.applied_now) == (400, True, False)
    assert first.user_after["usage"]["totalTokens"] == 321
    assert again.user_after is None
    usage = doc(user)["usage"]
    assert (usage["totalRequests"], usage["totalTokens"]) == (1, 321)
    assert doc(user)["tokens"]["balance"] == 9_600
    assert reconcile() == []


def test_crash_repair_applies_the_usage_counters_with_the_hold(user):
    """A settlement that died after writing its ledger entry is finished by `apply_pending`,
    usage included; a later retry of the settlement adds nothing."""
    key = str(ObjectId())
    hold = wallet.reserve(user.id, 1_000, key)
    held = doc(user)["holds"][key]
    wallet._entry_for(
        key, user.id, "charge", -250, 0, "chat", {}, hold_id=held["id"], also_inc=USAGE
    )
    assert doc(user)["tokens"]["reserved"] == hold.amount  # the crash: entry written, not applied
    assert wallet.apply_pending(older_than_seconds=0) == 1
    assert doc(user)["usage"]["totalTokens"] == 321
    assert wallet.settle(user.id, key, 900, also_inc=USAGE).charged == 250
    t = doc(user)
    assert (t["tokens"]["balance"], t["tokens"]["reserved"], t["usage"]["totalRequests"]) == (
        9_750,
        0,
        1,
    )
    assert reconcile() == []


def test_also_inc_cannot_touch_the_pools(user):
    key = str(ObjectId())
    wallet.reserve(user.id, 100, key)
    with pytest.raises(ValueError):
        wallet.settle(user.id, key, 10, also_inc={"tokens.freeTokens": 1_000})
    assert doc(user)["tokens"]["reserved"] == 100


def test_settling_a_hold_its_placer_kept_reads_nothing_and_writes_twice(user, monkeypatch):
    """The entry's insert and the hold-closing update: no read of the user first, no third
    write to mark the entry applied (a hold's closing is born applied)."""
    key = str(ObjectId())
    hold = wallet.reserve_new(user.id, 1_000, key, seen=doc(user)["tokens"])

    def refuse(*args, **kwargs):
        raise AssertionError("a round trip the settlement should not need")

    monkeypatch.setattr(wallet, "_holds", refuse)
    monkeypatch.setattr(wallet, "_mark_applied", refuse)
    result = wallet.settle(user.id, key, 300, also_inc=USAGE, hold=hold.placed())
    assert (result.charged, result.applied_now, result.from_free) == (300, True, 300)
    assert wallet.entry(key)["applied"] is True
    monkeypatch.undo()
    t = doc(user)["tokens"]
    assert (t["balance"], t["reserved"], t["usedTokens"]) == (9_700, 0, 300)
    assert reconcile() == []


def test_a_kept_hold_closed_since_is_not_charged_again(user):
    """The placer's copy of a hold released meanwhile (the reaper, a cancel): the release
    stands, nothing more is charged."""
    key = str(ObjectId())
    hold = wallet.reserve_new(user.id, 1_000, key, seen=doc(user)["tokens"])
    assert wallet.release(user.id, key, reason="cancelled").charged == 0
    late = wallet.settle(user.id, key, 400, hold=hold.placed())
    assert (late.charged, late.applied_now) == (0, False)
    assert doc(user)["tokens"]["balance"] == 10_000
    assert reconcile() == []


def test_a_closing_entry_whose_writer_died_is_applied_by_apply_pending(user):
    """Entry written (born applied), hold never closed: the old open hold with an entry is
    closed by that entry, once."""
    key = str(ObjectId())
    hold = wallet.reserve_new(user.id, 1_000, key, seen=doc(user)["tokens"])
    wallet._entry_for(key, user.id, "charge", -250, 0, "chat", None, hold_id=hold.id)
    assert [d.user_id for d in reconcile()] == [str(user.id)]
    assert wallet.apply_pending(older_than_seconds=0) == 1
    assert wallet.apply_pending(older_than_seconds=0) == 0
    t = doc(user)["tokens"]
    assert (t["balance"], t["reserved"], t["usedTokens"]) == (9_750, 0, 250)
    assert reconcile() == []
