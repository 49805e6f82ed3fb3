"""A user's own usage: tokens and charges per day and per model, and their ledger, newest first.

Read from the stored assistant messages (what each answer used and was charged) and the wallet
ledger (every token in and out). Both are read with constructs equally right on MongoDB and
nx-27017 (a `find` with `$in` on the owner, summed in Python; the day is the message's stored `day`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from common.conversations.models import ChatMessage
from common.stored import iso, same_id, utcnow
from common.wallet import service as wallet

SETTLED = ("done", "cancelled")


def usage(user_id, days: int) -> dict[str, Any]:
    """`{days, from, to, byDay: [{date, requests, tokens, charged, cost}] (every day, zeros
    included), byModel: [{modelId, ...}] (most tokens first), totals}`."""
    today = utcnow().date()
    first = today - timedelta(days=days - 1)
    match = {
        # `$in`, not equality: nx-27017 misses equality on a non-`_id` ObjectId field.
        "userId": same_id(user_id),
        "role": "assistant",
        "status": {"$in": list(SETTLED)},
        "day": {"$gte": first.isoformat()},
    }
    by_day = {(first + timedelta(days=i)).isoformat(): _zero() for i in range(days)}
    by_model: dict[str, dict[str, Any]] = {}
    totals = _zero()
    # Summed here from a projected `find`: nx-27017's aggregation `$match` misses ObjectId
    # values (even with `$in`), and a user's 90 days of answers are few enough to read.
    fields = {
        "day": 1,
        "modelId": 1,
        "usage": 1,
        "charged": 1,
        "cost": 1,
    }  # whole `usage`: see README
    for doc in ChatMessage._get_collection().find(match, fields):
        row = {
            "requests": 1,
            "tokens": (doc.get("usage") or {}).get("totalTokens"),
            "charged": doc.get("charged"),
            "cost": doc.get("cost"),
        }
        if doc.get("day") in by_day:
            _add(by_day[doc["day"]], row)
            _add(totals, row)
            _add(by_model.setdefault(doc.get("modelId") or "unknown", _zero()), row)
    models = sorted(by_model.items(), key=lambda kv: (-kv[1]["tokens"], kv[0]))
    return {
        "days": days,
        "from": first.isoformat(),
        "to": today.isoformat(),
        "byDay": [{"date": d, **_rounded(v)} for d, v in by_day.items()],
        "byModel": [{"modelId": m, **_rounded(v)} for m, v in models],
        "totals": _rounded(totals),
    }


def ledger(user_id, page: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    """The user's ledger entries, newest first, one page (with the wallet's own fields, e.g.
    `alsoInc`, that the document class does not declare)."""
    rows = wallet.entries_for(user_id, limit, (page - 1) * limit)
    return [ledger_json(e) for e in rows], wallet.count_entries(user_id)


def ledger_json(entry: dict[str, Any]) -> dict[str, Any]:
    details = dict(entry.get("details") or {})
    return {
        "id": str(entry["_id"]),
        "key": entry.get("key"),
        "kind": entry.get("kind"),
        "amount": entry.get("amount", 0),
        "free": entry.get("free", 0),
        "purchased": entry.get("purchased", 0),
        "source": entry.get("source", ""),
        "details": {k: _plain(v) for k, v in details.items() if _plain(v) is not None},
        "pending": not entry.get("applied"),
        "createdAt": iso(entry.get("createdAt")),
    }


def _plain(value: Any) -> Any:
    """A detail as JSON shows it: scalars, and maps of scalars (a receipt's usage and rates)."""
    if isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        flat = {str(k): v for k, v in value.items() if isinstance(v, (str, int, float, bool))}
        return flat or None
    return None


def _zero() -> dict[str, Any]:
    return {"requests": 0, "tokens": 0, "charged": 0, "cost": 0.0}


def _add(bucket: dict[str, Any], row: dict[str, Any]) -> None:
    for field in ("requests", "tokens", "charged"):
        bucket[field] += int(row.get(field) or 0)
    bucket["cost"] += float(row.get("cost") or 0)


def _rounded(v: dict[str, Any]) -> dict[str, Any]:
    return {**v, "cost": round(v["cost"], 6)}
