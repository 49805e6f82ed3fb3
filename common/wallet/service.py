"""The wallet: holds, settlements, credits and debits, each idempotent by key.

How it stays right without multi-document transactions:

- A user's spendable tokens live in `tokens.freeTokens` + `tokens.purchasedTokens` (= `balance`).
  Every change is one conditional update on the user document, so no pool goes below zero.
- `reserve` (`reserve_new` for a send's fresh key) moves tokens from the pools into a hold
  `holds.<key>` (free tokens first).
- Closing a hold (`settle`, `release`) first writes the ledger entry with the key as its unique
  id — the first writer decides the amount — then applies it to the user document on the
  condition that the hold still exists. Whoever runs second, or again after a crash, finds the
  entry and applies the same amount, or finds the hold gone and does nothing.
- `credit` writes the entry first too, then applies it together with a marker
  `applying.<key>` in the same update, so a retry never applies it twice. `debit` is a
  (clamped) `reserve` followed by `settle`, so it inherits their guarantees.
- A hold's closing entry is written already marked `applied`: the hold itself says whether it
  was applied (open: not yet). `apply_pending` (a periodic job) finishes what a writer that died
  between the two steps left: an old open hold whose key has an entry is closed by that entry,
  and a credit entry not yet applied is applied. So closing a hold costs the entry's insert and
  the user document's update, no third write.
- Each hold carries a random `id`, and a hold's ledger entry records it (`hold`). A retried
  `reserve` that raced a settlement can leave a second hold under a key that is already closed;
  the entry never applies to that hold (its id differs), it is simply returned to the pools.

nx-27017 notes (the embedded dev/test server), each worked around with a construct that is
equally right on MongoDB: a projection on a dotted path (`holds.<key>`) comes back as a flat
`"holds.<key>"` field, so we project all of `holds`; `{"$ne": {}}` is refused; equality on a
non-`_id` ObjectId field matches nothing (use `{"$in": [id]}`, see `entries_for`);
`count_documents` by `_id` counts nothing (we `find_one`); `find` compares dates at whole
seconds (we use `$lte`); a date written by `$set` may come back as text (read through `common.stored.as_utc`).
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import mongoengine
from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.client_session import ClientSession
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from common.errors import (
    AppError,
    Conflict,
    InsufficientTokens,
    NotFound,
    Unauthorized,
    ValidationError,
)
from common.stored import as_utc, object_id, same_id, utcnow
from common.wallet.models import LedgerEntry

log = logging.getLogger(__name__)

POOLS = ("free", "purchased")
_POOL_FIELD = {"free": "tokens.freeTokens", "purchased": "tokens.purchasedTokens"}
_RETRIES = 200
_MARKED_KINDS = ("credit", "grant", "reset")
# Every update of a user's wallet fields carries this `$inc`: the snapshot's `walletVersion`.
VERSION_INC = {"walletVersion": 1}


@dataclass(frozen=True)
class Hold:
    key: str
    amount: int
    free: int
    purchased: int
    # The user document right after the hold was placed, when the write returned it.
    user_after: dict | None = field(default=None, compare=False, repr=False)
    id: str = field(default="", compare=False)  # the hold's random id (see `settle(hold=...)`)

    def placed(self) -> dict:
        """What `settle(hold=...)` needs of it, as a caller stores it beside its key."""
        return {
            "id": self.id,
            "amount": self.amount,
            "free": self.free,
            "purchased": self.purchased,
        }


@dataclass(frozen=True)
class Settlement:
    key: str
    charged: int
    applied_now: bool  # False when an earlier call had already closed the hold
    # The user document right after this call closed the hold (None if it closed nothing).
    user_after: dict | None = field(default=None, compare=False, repr=False)
    # Where the charge came from (free tokens first), as its ledger entry records it.
    from_free: int = 0
    from_purchased: int = 0


def _settled(key: str, entry: dict | None, applied: bool, after: dict | None = None):
    """The `Settlement` that `entry` (the key's ledger entry) records."""
    if entry is None:
        return Settlement(key, 0, applied, after)
    split = {"from_free": -int(entry["free"]), "from_purchased": -int(entry["purchased"])}
    return Settlement(key, -entry["amount"], applied, after, **split)


def _users() -> Collection:
    """The user documents, whose wallet fields this module owns. Reached by name rather than
    through `common.users.models.User`: the wallet sits below `common.users`, whose
    registration grants the first tokens through it."""
    return mongoengine.get_db()["users"]


def _ledger() -> Collection:
    return LedgerEntry._get_collection()


def _check_key(key: str) -> str:
    if not key or "." in key or key.startswith("$"):
        raise ValueError(f"wallet key {key!r} must be non-empty, without dots or a leading $")
    return key


def _pool_inc(free: int, purchased: int) -> dict[str, int]:
    """The `$inc` that moves `free` and `purchased` tokens into (+) or out of (-) the pools."""
    total = free + purchased
    return {
        "tokens.freeTokens": free,
        "tokens.purchasedTokens": purchased,
        "tokens.balance": total,
        "credits": total,
    }


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, min(0.05, 0.001 * (attempt + 1))))


# -- ledger entries ---------------------------------------------------------------------------


def _entry_for(
    key: str,
    user_id: ObjectId,
    kind: str,
    free: int,
    purchased: int,
    source: str,
    details: dict | None,
    session: ClientSession | None = None,
    hold_id: str | None = None,
    also_inc: dict | None = None,
) -> dict:
    """Insert the ledger entry for `key`, or return the one already there (the first one wins)."""
    amount = free + purchased
    doc = {
        "key": key,
        "user": user_id,
        "kind": kind,
        "amount": amount,
        "free": free,
        "purchased": purchased,
        "source": source,
        "details": details or {},
        # A hold's closing is applied when the hold is gone: the hold is its state, not this.
        "applied": hold_id is not None,
        # Credits are applied under an `applying.<key>` marker that `apply_pending` later drops.
        "marker": hold_id is None and kind in _MARKED_KINDS and amount > 0,
        "createdAt": utcnow(),
    }
    if hold_id is not None:
        doc["hold"] = hold_id
    if also_inc:
        # Counters applied with the hold's closing update, whoever applies it (see `settle`).
        doc["alsoInc"] = {k.replace(".", "|"): v for k, v in also_inc.items()}
    try:
        _ledger().insert_one(doc, session=session)
        return doc
    except DuplicateKeyError:
        existing = _ledger().find_one({"key": key}, session=session)
        if existing["user"] != user_id:
            raise Conflict(
                f"key {key} was already used for another account", {"key": key}
            ) from None
        return existing


def _mark_applied(key: str, session: ClientSession | None = None) -> None:
    _ledger().update_one(
        {"key": key, "applied": False}, {"$set": {"applied": True}}, session=session
    )


# -- holds ------------------------------------------------------------------------------------


def _holds(uid: ObjectId, session: ClientSession | None = None) -> dict | None:
    """The user's tokens and open holds (None if there is no such user)."""
    doc = _users().find_one({"_id": uid}, {"tokens": 1, "holds": 1, "isActive": 1}, session=session)
    _note_view(doc)
    return doc


def _as_hold(key: str, h: dict) -> Hold:
    return Hold(key, int(h["amount"]), int(h["free"]), int(h["purchased"]), id=h.get("id", ""))


def reserve(user_id: Any, amount: int, key: str, *, details: dict | None = None) -> Hold:
    """Hold `amount` tokens (free first) under `key`, or raise `InsufficientTokens`.

    Calling it again with the same key returns the existing hold; a key already settled is
    refused (`ValidationError`).
    """
    uid, key, amount = _hold_args(user_id, key, amount)
    return _reserve_unless_closed(uid, key, amount, details)


def reserve_new(
    user_id: Any, amount: int, key: str, *, seen: dict, details: dict | None = None
) -> Hold:
    """`reserve` for a send: `key` was just minted by the caller (a new ObjectId), so nothing
    can have been held or settled under it and the closed-key lookups are skipped; `seen` is
    the user's `tokens` sub-document as the caller just read it, so the first attempt costs one
    round trip (the update's conditions still guard every pool: a stale view only retries).
    A deactivated account is refused (`Unauthorized`) in the same conditional write, so the
    caller need not re-read the user to learn it.
    """
    uid, key, amount = _hold_args(user_id, key, amount)
    view = _view(uid, seen)
    # A hold that takes the last free tokens (and purchased ones for the rest) needs the free
    # pool exactly as it is: such holds of one user would race each other, so they go one at a
    # time in this process. Others try at once; if another write changed the pools since the
    # view (many answers of one user at once), they too wait their turn and retry from the pools
    # the previous hold left.
    if not 0 < int(view.get("freeTokens", 0)) < amount:
        held = _try_hold(uid, key, amount, view, details)
        if held is not None:
            return held
    with _placing_lock(uid):
        fresh = _view(uid, seen)
        if fresh is not view:  # the holds before this one left their pools: no read needed
            held = _try_hold(uid, key, amount, fresh, details)
            if held is not None:
                return held
        return _hold(uid, key, amount, details, active_only=True)[0]


# -- this process's view of its users' pools ----------------------------------------------------
#
# Under many concurrent answers of one user, every hold and every settlement changes the user's
# pools, and a hold that spends purchased tokens must see the free pool exactly (free first):
# optimistic holds from one stale view then fail and retry in a storm. The process keeps the
# pools its own last write returned (fresher than the caller's copy) and, once a hold has failed,
# serialises that user's holds in this process. The conditional writes stay the only guard:
# a view is only a guess, and a wrong guess costs a retry, never a wrong hold.

VIEW_SECONDS = 2.0
MAX_VIEWS = 50_000
_views: dict[ObjectId, tuple[float, dict]] = {}
_placing: dict[ObjectId, threading.Lock] = {}
_placing_guard = threading.Lock()


def _note_view(doc: dict | None) -> None:
    if doc is not None and "tokens" in doc:
        if len(_views) > MAX_VIEWS:
            _views.clear()
        _views[doc["_id"]] = (time.monotonic(), doc["tokens"])


def _view(uid: ObjectId, seen: dict) -> dict:
    """The pools this process last saw written for `uid` if recent, else the caller's."""
    noted = _views.get(uid)
    if noted is not None and time.monotonic() - noted[0] < VIEW_SECONDS:
        return noted[1]
    return seen


def _placing_lock(uid: ObjectId) -> threading.Lock:
    with _placing_guard:
        if len(_placing) > MAX_VIEWS:
            _placing.clear()  # a user between two locks only races, as without them
        return _placing.setdefault(uid, threading.Lock())


def _hold_args(user_id: Any, key: str, amount: int) -> tuple[ObjectId, str, int]:
    uid, key, amount = object_id(user_id), _check_key(key), int(amount)
    if amount < 0:
        raise ValidationError("amount must not be negative")
    return uid, key, amount


def _reserve_unless_closed(
    uid: ObjectId, key: str, amount: int, details: dict | None, **placing: Any
) -> Hold:
    """Hold under a key that may have been used before: refused if it is closed already, or
    if a settlement of an earlier hold under it finished while this one was placed.
    `placing`: how `_hold` places it (`pools`, `clamp`)."""
    _refuse_closed(key)
    held, placed = _hold(uid, key, amount, details, **placing)
    if placed is not None:
        closed = _ledger().find_one({"key": key}, {"hold": 1})
        # An entry for this very hold is a concurrent settle of it (it read the hold we just
        # placed): that settle closes it. Only an entry for something else makes it stray.
        if closed is not None and closed.get("hold") != placed.get("id"):
            _drop_stray_hold(uid, key, placed)
            _refuse_closed(key)
    return held


def _hold(
    uid: ObjectId,
    key: str,
    amount: int,
    details: dict | None,
    *,
    pools: tuple[str, ...] = POOLS,
    clamp: bool = False,
    active_only: bool = False,
) -> tuple[Hold, dict | None]:
    """Read the pools, then place the hold by a conditional write; again if a concurrent write
    changed them. Returns the hold and the hold document this call wrote (None if a hold was
    already there under `key`). `clamp` holds what there is, up to `amount`."""
    for attempt in range(_RETRIES):
        doc = _holds(uid)
        if doc is None:
            raise NotFound("User not found.")
        if active_only and not doc.get("isActive", True):  # nx-27017 may store it as 0
            raise Unauthorized("This account is deactivated.")
        if key in (doc.get("holds") or {}):
            return _as_hold(key, doc["holds"][key]), None
        tokens = doc.get("tokens") or {}
        have = {p: int(tokens.get(_POOL_FIELD[p].split(".")[1], 0)) for p in POOLS}
        available = sum(have[p] for p in pools)
        want = min(amount, available) if clamp else amount
        if want > available:
            raise InsufficientTokens(required=amount, available=available)
        held = _place_hold(uid, key, want, have, pools, details, active_only)
        if held is not None:
            return held
        _backoff(attempt)
    raise AppError("The wallet is busy; please retry.")


def _try_hold(
    uid: ObjectId, key: str, amount: int, seen: dict, details: dict | None
) -> Hold | None:
    """One attempt from the caller's view of the pools; None if that view was stale or short."""
    have = {
        "free": int(seen.get("freeTokens", 0)),
        "purchased": int(seen.get("purchasedTokens", 0)),
    }
    if sum(have.values()) < amount:
        return None  # the slow path re-reads and raises InsufficientTokens with fresh numbers
    held = _place_hold(uid, key, amount, have, POOLS, details, active_only=True)
    return held[0] if held else None


def _place_hold(
    uid: ObjectId,
    key: str,
    want: int,
    have: dict,
    pools: tuple[str, ...],
    details: dict | None,
    active_only: bool = False,
) -> tuple[Hold, dict] | None:
    """The conditional write that moves `want` tokens (free first) into `holds.<key>`."""
    take_free = min(have["free"], want) if "free" in pools else 0
    take_purchased = want - take_free
    condition = {
        "_id": uid,
        f"holds.{key}": {"$exists": False},
        "tokens.freeTokens": {"$gte": take_free},
        "tokens.purchasedTokens": {"$gte": take_purchased},
    }
    if take_purchased and "free" in pools:
        # Purchased tokens only once the free pool is empty: a stale view of it (a caller's
        # hint) must not leave free tokens unspent, so the pool must be exactly as seen.
        condition["tokens.freeTokens"] = take_free
    if active_only:
        condition["isActive"] = True
    hold = {
        "id": uuid.uuid4().hex,
        "amount": want,
        "free": take_free,
        "purchased": take_purchased,
        "at": utcnow(),
    }
    if details:
        hold["details"] = details
    update = {
        "$inc": {**_pool_inc(-take_free, -take_purchased), "tokens.reserved": want, **VERSION_INC},
        "$set": {f"holds.{key}": hold, "updatedAt": utcnow()},
    }
    after = _users().find_one_and_update(condition, update, return_document=ReturnDocument.AFTER)
    if after is None:
        return None
    _note_view(after)
    return Hold(key, want, take_free, take_purchased, user_after=after, id=hold["id"]), hold


def _refuse_closed(key: str) -> None:
    if _ledger().find_one({"key": key}, {"_id": 1}):
        raise ValidationError(f"hold {key} was already closed")


def get_hold(user_id: Any, key: str) -> Hold | None:
    return get_holds(user_id, [_check_key(key)]).get(key)


def get_holds(user_id: Any, keys: list[str]) -> dict[str, Hold]:
    """The open holds among `keys`, by key (one read of the user document)."""
    held = (_holds(object_id(user_id)) or {}).get("holds") or {}
    return {key: _as_hold(key, held[key]) for key in keys if held.get(key)}


def settle(
    user_id: Any,
    key: str,
    actual: int,
    *,
    source: str = "chat",
    details: dict | None = None,
    kind: str = "charge",
    session: ClientSession | None = None,
    also_inc: dict[str, int | float] | None = None,
    hold: dict | None = None,
) -> Settlement:
    """Charge `actual` tokens (capped at the hold, free share first) and release the rest.

    Safe to call any number of times, concurrently too: the first call's amount is the one
    charged; later calls apply nothing and report that amount. `also_inc` adds other counters
    of the user document (e.g. usage stats) to the one update that closes the hold, so they
    count exactly as often as the hold closes: once.

    `hold`: the hold as its placer stored it (`Hold.placed()`), which spares reading the user
    document first. Only a hold that was placed under `key` may be given: if it was closed
    since, its entry is there and the closing update finds the hold gone, as a second call does.
    """
    uid, key = object_id(user_id), _check_key(key)
    if any(not name.startswith("usage.") for name in also_inc or {}):
        raise ValueError("also_inc may only touch usage counters, never the pools")
    if hold is None:
        hold = ((_holds(uid, session) or {}).get("holds") or {}).get(key)
    if hold is None:
        return _settled(key, _ledger().find_one({"key": key}, session=session), False)
    charged = max(0, min(int(actual), int(hold["amount"])))
    from_free = min(charged, int(hold["free"]))
    entry_kind = kind if charged else "release"
    entry = _entry_for(
        key,
        uid,
        entry_kind,
        -from_free,
        -(charged - from_free),
        source,
        details,
        session,
        hold_id=hold.get("id", ""),
        also_inc=also_inc,
    )
    if not _entry_matches(entry, hold):
        # The key was closed before this hold was placed: give the stray hold back whole.
        _drop_stray_hold(uid, key, hold, session)
        return _settled(key, entry, False)
    after = _apply_hold_entry(uid, key, hold, entry, session)
    return _settled(key, entry, after is not None, after)


def release(
    user_id: Any, key: str, *, reason: str = "", session=None, hold: dict | None = None
) -> Settlement:
    """Close the hold with nothing charged. If it was already settled, that settlement stands.
    `hold`: as for `settle`."""
    details = {"reason": reason}
    return settle(user_id, key, 0, source="release", details=details, session=session, hold=hold)


def _this_hold(uid: ObjectId, key: str, hold: dict) -> dict:
    """The condition "this very hold is still open" (not merely some hold under `key`)."""
    if hold.get("id"):
        return {"_id": uid, f"holds.{key}.id": hold["id"]}
    return {"_id": uid, f"holds.{key}": {"$exists": True}}


def _close_hold(
    uid: ObjectId,
    key: str,
    hold: dict,
    refund_free: int,
    refund_purchased: int,
    used: int,
    session: ClientSession | None,
    also_inc: dict[str, int | float] | None = None,
) -> dict | None:
    """Close this very hold; returns the user document after, or None if it was not open."""
    after = _users().find_one_and_update(
        _this_hold(uid, key, hold),
        {
            "$unset": {f"holds.{key}": ""},
            "$inc": {
                **(also_inc or {}),
                **_pool_inc(refund_free, refund_purchased),
                "tokens.reserved": -int(hold["amount"]),
                "tokens.usedTokens": used,
                **VERSION_INC,
            },
            "$set": {"updatedAt": utcnow()},
        },
        return_document=ReturnDocument.AFTER,
        session=session,
    )
    _note_view(after)
    return after


def _drop_stray_hold(
    uid: ObjectId, key: str, hold: dict, session: ClientSession | None = None
) -> bool:
    closed = _close_hold(uid, key, hold, int(hold["free"]), int(hold["purchased"]), 0, session)
    return closed is not None


def _apply_hold_entry(
    uid: ObjectId, key: str, hold: dict, entry: dict, session: ClientSession | None
) -> dict | None:
    """Close `hold` as `entry` says; returns the user document after, or None if already closed."""
    refund_free = int(hold["free"]) + int(entry["free"])
    refund_purchased = int(hold["purchased"]) + int(entry["purchased"])
    if refund_free < 0 or refund_purchased < 0:
        raise AppError(f"ledger entry {key} exceeds its hold")
    used = -int(entry["amount"]) if entry["kind"] == "charge" else 0
    also_inc = {k.replace("|", "."): v for k, v in (entry.get("alsoInc") or {}).items()}
    after = _close_hold(uid, key, hold, refund_free, refund_purchased, used, session, also_inc)
    if not entry.get("applied"):  # written before hold closings were born applied
        _mark_applied(key, session)
    return after


# -- credits and debits -----------------------------------------------------------------------


def credit(
    user_id: Any,
    amount: int,
    key: str,
    source: str,
    *,
    pool: str = "purchased",
    kind: str = "credit",
    details: dict | None = None,
) -> tuple[int, bool]:
    """Add `amount` tokens to `pool` once per `key`. Returns (amount, applied_now)."""
    uid, key, amount = object_id(user_id), _check_key(key), int(amount)
    if amount <= 0 or pool not in POOLS:
        raise ValidationError("credit needs a positive amount and a known pool")
    if _users().find_one({"_id": uid}, {"_id": 1}) is None:
        raise NotFound("User not found.")
    free, purchased = (amount, 0) if pool == "free" else (0, amount)
    entry = _entry_for(key, uid, kind, free, purchased, source, details)
    if entry["kind"] != kind:
        raise Conflict(f"key {key} was already used for a {entry['kind']}", {"key": key})
    return entry["amount"], _apply_marked_entry(entry)


def debit(
    user_id: Any,
    amount: int,
    key: str,
    source: str,
    *,
    pools: tuple[str, ...] = ("purchased",),
    clamp: bool = True,
    details: dict | None = None,
) -> int:
    """Take up to `amount` tokens out of `pools`, never below zero, once per `key`.

    Returns what was taken (with `clamp=False`, all of it or `InsufficientTokens`).
    """
    key = _check_key(key)
    if int(amount) <= 0:
        raise ValidationError("debit needs a positive amount")
    if _ledger().find_one({"key": key}, {"_id": 1}) is None:
        # A concurrent call with this key may close it first; then its amount stands.
        with contextlib.suppress(ValidationError):
            uid = object_id(user_id)
            _reserve_unless_closed(uid, key, int(amount), details, pools=pools, clamp=clamp)
    return settle(user_id, key, amount, source=source, details=details, kind="debit").charged


def _apply_marked_entry(entry: dict) -> bool:
    """Apply a credit entry to its user once, guarded by `applying.<key>` on the user document."""
    if entry.get("applied"):
        return False
    key = entry["key"]
    res = _users().update_one(
        {"_id": entry["user"], f"applying.{key}": {"$exists": False}},
        {
            "$inc": {**_pool_inc(int(entry["free"]), int(entry["purchased"])), **VERSION_INC},
            "$set": {f"applying.{key}": utcnow(), "updatedAt": utcnow()},
        },
    )
    _mark_applied(key)
    return bool(res.modified_count)


def apply_pending(older_than_seconds: float = 30.0, forget_markers_after_days: int = 7) -> int:
    """Finish ledger entries whose writer died between writing and applying them.

    Safe to run any number of times, also while writers are live: each entry still applies at
    most once. Also drops `applying` markers old enough that no retry can still be racing.
    """
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    done = 0
    # `$lte`, not `$lt`: nx-27017's find compares dates at whole seconds (same second: not `$lt`).
    for entry in _ledger().find({"applied": False, "createdAt": {"$lte": cutoff}}):
        if entry["kind"] in _MARKED_KINDS and entry["amount"] > 0:
            _apply_marked_entry(entry)
        else:
            _finish_hold_entry(entry)
        done += 1
    done += _close_holds_with_entries(cutoff)
    _forget_markers(utcnow() - timedelta(days=forget_markers_after_days))
    return done


def _close_holds_with_entries(before: datetime) -> int:
    """Close, by their entries, holds placed before `before` whose closing entry was written
    but whose closing update never ran (its writer died in between)."""
    old = [(uid, hold) for uid, hold, _ in open_holds(older_than=before)]
    if not old:
        return 0
    entries = {e["key"]: e for e in _ledger().find({"key": {"$in": [h.key for _, h in old]}})}
    done = 0
    for _uid, hold in old:
        if hold.key in entries:
            _finish_hold_entry(entries[hold.key])
            done += 1
    return done


def _finish_hold_entry(entry: dict) -> None:
    uid, key = entry["user"], entry["key"]
    hold = ((_holds(uid) or {}).get("holds") or {}).get(key)
    if hold is None:
        _mark_applied(key)
    elif _entry_matches(entry, hold):
        _apply_hold_entry(uid, key, hold, entry, None)
    else:
        _drop_stray_hold(uid, key, hold)
        _mark_applied(key)


def _entry_matches(entry: dict, hold: dict) -> bool:
    """Does this ledger entry close this very hold? (Entries without a hold id match any.)"""
    return entry.get("hold") is None or entry["hold"] == hold.get("id", "")


def _forget_markers(before: datetime) -> None:
    """Drop the `applying.<key>` markers of credits applied before `before`."""
    query = {"marker": True, "applied": True, "createdAt": {"$lte": before}}
    for entry in _ledger().find(query, {"key": 1, "user": 1}):
        _users().update_one({"_id": entry["user"]}, {"$unset": {f"applying.{entry['key']}": ""}})
        _ledger().update_one({"_id": entry["_id"]}, {"$set": {"marker": False}})


# -- grants -----------------------------------------------------------------------------------


def grant_free_tokens(user_id: Any, amount: int) -> tuple[int, bool]:
    """The sign-up grant: once per user, in the free pool."""
    return credit(user_id, amount, f"grant-{user_id}", "signup", pool="free", kind="grant")


@dataclass(frozen=True)
class Reset:
    key: str
    added: int  # tokens this call put into the free pool
    replayed: bool  # the reset id was already used for this user: nothing changed


def reset_free_tokens(
    user_id: Any, allowance: int, reset_id: str | None, source: str, details: dict
) -> Reset:
    """Top the free pool back up to `allowance`, once per user per `reset_id` (a `reset` entry).

    Free tokens sitting in open holds count as the user's, so a hold released later does not
    push the pool past the allowance. The same `reset_id` again changes nothing.
    """
    uid = object_id(user_id)
    key = f"reset-{uid}-{reset_id or ObjectId()}"
    if entry(key) is not None:
        return Reset(key, 0, True)
    doc = _holds(uid)
    if doc is None:
        raise NotFound("User not found.")
    held_free = sum(int(h.get("free", 0)) for h in (doc.get("holds") or {}).values())
    missing = allowance - int((doc.get("tokens") or {}).get("freeTokens", 0)) - held_free
    if missing <= 0:
        return Reset(key, 0, False)
    _, applied = credit(uid, missing, key, source, pool="free", kind="reset", details=details)
    _users().update_one(
        {"_id": uid}, {"$currentDate": {"tokens.lastResetDate": True}, "$inc": VERSION_INC}
    )
    return Reset(key, missing if applied else 0, not applied)


# -- reading ----------------------------------------------------------------------------------


def open_holds(older_than: datetime | None = None):
    """Yield (user_id, Hold, placed_at) for every open hold, optionally only older ones."""
    for doc in _users().find({"tokens.reserved": {"$gt": 0}}, {"holds": 1}):
        for key, h in (doc.get("holds") or {}).items():
            at = as_utc(h.get("at"))
            if older_than is None or (at and at < older_than):
                yield doc["_id"], _as_hold(key, h), at


def held_totals() -> tuple[int, int]:
    """(open holds, tokens they hold) across every user, as the metrics report them."""
    holds = held = 0
    query = {"tokens.reserved": {"$gt": 0}}
    for doc in _users().find(query, {"holds": 1, "tokens.reserved": 1}):
        holds += len(doc.get("holds") or {})
        held += int((doc.get("tokens") or {}).get("reserved") or 0)
    return holds, held


def entry(key: str) -> dict | None:
    """The ledger entry written under `key` (None while nothing has been written under it)."""
    return _ledger().find_one({"key": key})


def entries_for(user_id: Any, limit: int = 50, skip: int = 0) -> list[dict]:
    """A user's ledger entries, newest first (the newest written first within one instant).

    `$in` rather than plain equality: nx-27017 matches nothing on `{"user": <ObjectId>}` for a
    non-`_id` field, while `$in` works there and means the same on MongoDB.
    """
    cursor = _ledger().find(_of_user(user_id)).sort([("createdAt", -1), ("_id", -1)])
    return list(cursor.skip(int(skip)).limit(int(limit)))


def count_entries(user_id: Any) -> int:
    """How many ledger entries the user has. Counted by reading ids: nx-27017's
    `count_documents` counts 0 with an ObjectId filter."""
    return len(list(_ledger().find(_of_user(user_id), {"_id": 1})))


def _of_user(user_id: Any) -> dict:
    return {"user": same_id(user_id)}
