"""The wallet: holds, settlements, credits and debits, each idempotent by key.

How it stays right without multi-document transactions:

- A user's spendable tokens live in `tokens.freeTokens` + `tokens.purchasedTokens` (= `balance`).
  Every change is one conditional update on the user document, so no pool goes below zero.
- `reserve` moves tokens from the pools into a hold `holds.<key>` (free tokens first).
- Closing a hold (`settle`, `release`) first writes the ledger entry with the key as its unique
  id — the first writer decides the amount — then applies it to the user document on the
  condition that the hold still exists. Whoever runs second, or again after a crash, finds the
  entry and applies the same amount, or finds the hold gone and does nothing.
- `credit` and `debit` write the entry first too, then apply it together with a marker
  `applying.<key>` in the same update, so a retry never applies it twice.
- `apply_pending` (a periodic job) finishes entries whose writer died between the two steps.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo.client_session import ClientSession
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from common.errors import AppError, InsufficientTokens, NotFound, ValidationError
from common.users.models import User, utcnow
from common.wallet.models import LedgerEntry

log = logging.getLogger(__name__)

POOLS = ("free", "purchased")
_POOL_FIELD = {"free": "tokens.freeTokens", "purchased": "tokens.purchasedTokens"}
_RETRIES = 200


@dataclass(frozen=True)
class Hold:
    key: str
    amount: int
    free: int
    purchased: int


@dataclass(frozen=True)
class Settlement:
    key: str
    charged: int
    applied_now: bool  # False when an earlier call had already closed the hold


def users() -> Collection:
    return User._get_collection()


def ledger() -> Collection:
    return LedgerEntry._get_collection()


def _oid(user_id: Any) -> ObjectId:
    return user_id if isinstance(user_id, ObjectId) else ObjectId(str(user_id))


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
) -> dict:
    """Insert the ledger entry for `key`, or return the one already there (the first one wins)."""
    doc = {
        "key": key,
        "user": user_id,
        "kind": kind,
        "amount": free + purchased,
        "free": free,
        "purchased": purchased,
        "source": source,
        "details": details or {},
        "applied": False,
        "createdAt": utcnow(),
    }
    try:
        ledger().insert_one(doc, session=session)
        return doc
    except DuplicateKeyError:
        existing = ledger().find_one({"key": key}, session=session)
        if existing["user"] != user_id:
            raise AppError(f"ledger key {key} belongs to another user") from None
        return existing


def _mark_applied(key: str, session: ClientSession | None = None) -> None:
    ledger().update_one(
        {"key": key, "applied": False}, {"$set": {"applied": True}}, session=session
    )


# -- holds ------------------------------------------------------------------------------------


def reserve(
    user_id: Any,
    amount: int,
    key: str,
    *,
    pools: tuple[str, ...] = POOLS,
    clamp: bool = False,
    details: dict | None = None,
) -> Hold:
    """Hold `amount` tokens (free first) under `key`, or raise `InsufficientTokens`.

    With `clamp=True` it holds what there is, up to `amount` (used for refunds). Calling it
    again with the same key returns the existing hold; a key already settled is refused.
    """
    uid, key, amount = _oid(user_id), _check_key(key), int(amount)
    if amount < 0:
        raise ValidationError("amount must not be negative")
    if ledger().find_one({"key": key}, {"_id": 1}):
        raise ValidationError(f"hold {key} was already closed")
    for attempt in range(_RETRIES):
        doc = users().find_one({"_id": uid}, {"tokens": 1, f"holds.{key}": 1})
        if doc is None:
            raise NotFound("User not found.")
        if key in (doc.get("holds") or {}):
            h = doc["holds"][key]
            return Hold(key, h["amount"], h["free"], h["purchased"])
        tokens = doc.get("tokens") or {}
        have = {p: int(tokens.get(_POOL_FIELD[p].split(".")[1], 0)) for p in POOLS}
        available = sum(have[p] for p in pools)
        want = min(amount, available) if clamp else amount
        if want > available:
            raise InsufficientTokens(required=amount, available=available)
        take_free = min(have["free"], want) if "free" in pools else 0
        take_purchased = want - take_free
        condition = {
            "_id": uid,
            f"holds.{key}": {"$exists": False},
            "tokens.freeTokens": {"$gte": take_free},
            "tokens.purchasedTokens": {"$gte": take_purchased},
        }
        hold = {"amount": want, "free": take_free, "purchased": take_purchased, "at": utcnow()}
        if details:
            hold["details"] = details
        update = {
            "$inc": {**_pool_inc(-take_free, -take_purchased), "tokens.reserved": want},
            "$set": {f"holds.{key}": hold, "updatedAt": utcnow()},
        }
        if users().update_one(condition, update).modified_count:
            return Hold(key, want, take_free, take_purchased)
        _backoff(attempt)
    raise AppError("The wallet is busy; please retry.")


def get_hold(user_id: Any, key: str) -> Hold | None:
    doc = users().find_one({"_id": _oid(user_id)}, {f"holds.{_check_key(key)}": 1})
    h = ((doc or {}).get("holds") or {}).get(key)
    return Hold(key, h["amount"], h["free"], h["purchased"]) if h else None


def settle(
    user_id: Any,
    key: str,
    actual: int,
    *,
    source: str = "chat",
    details: dict | None = None,
    kind: str = "charge",
    session: ClientSession | None = None,
) -> Settlement:
    """Charge `actual` tokens (capped at the hold, free share first) and release the rest.

    Safe to call any number of times, concurrently too: the first call's amount is the one
    charged; later calls apply nothing and report that amount.
    """
    uid, key = _oid(user_id), _check_key(key)
    doc = users().find_one(
        {"_id": uid, f"holds.{key}": {"$exists": True}}, {f"holds.{key}": 1}, session=session
    )
    if doc is None:
        entry = ledger().find_one({"key": key}, session=session)
        return Settlement(key, -entry["amount"] if entry else 0, False)
    hold = doc["holds"][key]
    charged = max(0, min(int(actual), int(hold["amount"])))
    from_free = min(charged, int(hold["free"]))
    entry_kind = kind if charged else "release"
    entry = _entry_for(
        key, uid, entry_kind, -from_free, -(charged - from_free), source, details, session
    )
    applied = _apply_hold_entry(uid, key, hold, entry, session)
    return Settlement(key, -entry["amount"], applied)


def release(user_id: Any, key: str, *, reason: str = "", session=None) -> Settlement:
    """Close the hold with nothing charged. If it was already settled, that settlement stands."""
    return settle(user_id, key, 0, source="release", details={"reason": reason}, session=session)


def _apply_hold_entry(
    uid: ObjectId, key: str, hold: dict, entry: dict, session: ClientSession | None
) -> bool:
    refund_free = int(hold["free"]) + int(entry["free"])
    refund_purchased = int(hold["purchased"]) + int(entry["purchased"])
    if refund_free < 0 or refund_purchased < 0:
        raise AppError(f"ledger entry {key} exceeds its hold")
    res = users().update_one(
        {"_id": uid, f"holds.{key}": {"$exists": True}},
        {
            "$unset": {f"holds.{key}": ""},
            "$inc": {
                **_pool_inc(refund_free, refund_purchased),
                "tokens.reserved": -int(hold["amount"]),
                "tokens.usedTokens": -int(entry["amount"]) if entry["kind"] == "charge" else 0,
            },
            "$set": {"updatedAt": utcnow()},
        },
        session=session,
    )
    _mark_applied(key, session)
    return bool(res.modified_count)


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
    uid, key, amount = _oid(user_id), _check_key(key), int(amount)
    if amount <= 0 or pool not in POOLS:
        raise ValidationError("credit needs a positive amount and a known pool")
    free, purchased = (amount, 0) if pool == "free" else (0, amount)
    entry = _entry_for(key, uid, kind, free, purchased, source, details)
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
    if ledger().find_one({"key": key}, {"_id": 1}) is None:
        reserve(user_id, amount, key, pools=pools, clamp=clamp)
    return settle(user_id, key, amount, source=source, details=details, kind="debit").charged


def _apply_marked_entry(entry: dict) -> bool:
    """Apply a credit entry to its user once, guarded by `applying.<key>` on the user document."""
    if entry.get("applied"):
        return False
    key = entry["key"]
    res = users().update_one(
        {"_id": entry["user"], f"applying.{key}": {"$exists": False}},
        {
            "$inc": _pool_inc(int(entry["free"]), int(entry["purchased"])),
            "$set": {f"applying.{key}": utcnow(), "updatedAt": utcnow()},
        },
    )
    _mark_applied(key)
    return bool(res.modified_count)


def apply_pending(older_than_seconds: float = 30.0, forget_markers_after_days: int = 7) -> int:
    """Finish ledger entries whose writer died between writing and applying them.

    Also drops `applying` markers old enough that no retry of their key can still be racing.
    """
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    done = 0
    for entry in ledger().find({"applied": False, "createdAt": {"$lt": cutoff}}):
        if entry["kind"] in ("credit", "grant", "reset") and entry["amount"] > 0:
            _apply_marked_entry(entry)
        else:
            doc = users().find_one({"_id": entry["user"]}, {f"holds.{entry['key']}": 1})
            hold = ((doc or {}).get("holds") or {}).get(entry["key"])
            if hold:
                _apply_hold_entry(entry["user"], entry["key"], hold, entry, None)
            else:
                _mark_applied(entry["key"])
        done += 1
    _forget_markers(utcnow() - timedelta(days=forget_markers_after_days))
    return done


def _forget_markers(before: datetime) -> None:
    for doc in users().find({"applying": {"$ne": {}}}, {"applying": 1}):
        stale = {k: "" for k, at in (doc.get("applying") or {}).items() if _aware(at) < before}
        if stale:
            users().update_one(
                {"_id": doc["_id"]}, {"$unset": {f"applying.{k}": "" for k in stale}}
            )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# -- grants -----------------------------------------------------------------------------------


def grant_free_tokens(user_id: Any, amount: int) -> tuple[int, bool]:
    """The sign-up grant: once per user, in the free pool."""
    return credit(user_id, amount, f"grant-{user_id}", "signup", pool="free", kind="grant")


def open_holds(older_than: datetime | None = None):
    """Yield (user_id, Hold, placed_at) for every open hold, optionally only older ones."""
    for doc in users().find({"tokens.reserved": {"$gt": 0}}, {"holds": 1}):
        for key, h in (doc.get("holds") or {}).items():
            at = _aware(h.get("at")) if h.get("at") else None
            if older_than is None or (at and at < older_than):
                yield doc["_id"], Hold(key, h["amount"], h["free"], h["purchased"]), at
