"""A user's own usage: tokens and charges per day, per model and per API key; the ledger; and the
API usage records of the OpenAI-compatible API, listable and exportable per key.

What was used and spent is read from the wallet ledger, which nothing but the wallet writes and
nothing deletes: every settled answer (done or cancelled) has one entry keyed by its message id,
whose details say the model, the tokens, the key it came through and the provider's cost. So
deleting a conversation never changes what a user sees was spent. The API usage records
(`kind: "api"` answers, common/conversations/models.py) add the per-request view: status,
request id, timings — failed requests included.

Read with constructs equally right on MongoDB and nx-27017 (a `find` with `$in` on the owner,
summed in Python).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from common.conversations.models import ChatMessage
from common.stored import iso, same_id, utcnow
from common.wallet import service as wallet
from common.wallet.models import LedgerEntry

SETTLED = ("done", "cancelled")
ANSWER_SOURCES = ("chat", "api")


def usage(user_id, days: int) -> dict[str, Any]:
    """`{days, from, to, byDay: [{date, requests, tokens, charged, cost}] (every day, zeros
    included), byModel: [{modelId, ...}] (most tokens first), byKey: [{apiKeyId, ...}] (most
    charged first), totals}`, from the ledger's answer entries."""
    today = utcnow().date()
    first = today - timedelta(days=days - 1)
    by_day = {(first + timedelta(days=i)).isoformat(): _zero() for i in range(days)}
    by_model: dict[str, dict[str, Any]] = {}
    by_key: dict[str, dict[str, Any]] = {}
    totals = _zero()
    for entry in _answer_entries(user_id, first):
        d = entry.get("details") or {}
        day = _day(entry.get("createdAt"))
        if day not in by_day:
            continue
        row = {"requests": 1, "tokens": _tokens(d), "charged": -int(entry.get("amount") or 0)}
        row["cost"] = d.get("cost")
        _add(by_day[day], row)
        _add(totals, row)
        _add(by_model.setdefault(d.get("modelId") or "unknown", _zero()), row)
        if d.get("apiKeyId"):
            _add(by_key.setdefault(str(d["apiKeyId"]), _zero()), row)
    models = sorted(by_model.items(), key=lambda kv: (-kv[1]["tokens"], kv[0]))
    return {
        "days": days,
        "from": first.isoformat(),
        "to": today.isoformat(),
        "byDay": [{"date": d, **_rounded(v)} for d, v in by_day.items()],
        "byModel": [{"modelId": m, **_rounded(v)} for m, v in models],
        "byKey": _keys(by_key),
        "totals": _rounded(totals),
    }


def _answer_entries(user_id, first) -> list[dict]:
    """The user's ledger entries of settled answers since the start of day `first`."""
    since = datetime.combine(first, time.min, UTC)
    query = {
        **_owner(user_id),
        "source": {"$in": list(ANSWER_SOURCES)},
        "createdAt": {"$gte": since},
    }
    fields = {"amount": 1, "createdAt": 1, "details": 1, "kind": 1}
    rows = LedgerEntry._get_collection().find(query, fields)
    return [e for e in rows if (e.get("details") or {}).get("status") in SETTLED]


def _owner(user_id) -> dict:
    # `$in`, not equality: nx-27017 misses equality on a non-`_id` ObjectId field.
    return {"user": same_id(user_id)}


def _tokens(details: dict) -> int:
    if details.get("tokens") is not None:
        return int(details["tokens"])
    used = details.get("usage") or {}
    return int(used.get("prompt") or 0) + int(used.get("completion") or 0)


def _day(value) -> str:
    return value.date().isoformat() if isinstance(value, datetime) else str(value or "")[:10]


def _keys(by_key: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per key used in the period, most charged first (the caller names them)."""
    rows = [{"apiKeyId": kid, **_rounded(figures)} for kid, figures in by_key.items()]
    rows.sort(key=lambda r: (-r["charged"], -r["requests"], r["apiKeyId"]))
    return rows


# -- API usage records ----------------------------------------------------------------------------


def api_requests(
    user_id, key_id: str | None, page: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """The user's API usage records (one per `/v1` request), newest first, one page; with
    `key_id`, that key's only. Returns (records, total)."""
    query = _records_query(user_id, key_id)
    total = len(list(_records().find(query, {"_id": 1})))  # nx-27017 counts 0 with ObjectIds
    rows = _records().find(query, RECORD_FIELDS).sort([("createdAt", -1), ("_id", -1)])
    return [record_json(d) for d in rows.skip((page - 1) * limit).limit(limit)], total


RECORD_FIELDS = {
    "apiKeyId": 1,
    "requestId": 1,
    "modelId": 1,
    "status": 1,
    "usage": 1,
    "charged": 1,
    "reserved": 1,
    "error": 1,
    "ttftMs": 1,
    "durationMs": 1,
    "createdAt": 1,
    "completedAt": 1,
}


def _records():
    return ChatMessage._get_collection()


def _records_query(user_id, key_id: str | None) -> dict:
    query = {"userId": same_id(user_id), "kind": "api"}
    if key_id:
        query["apiKeyId"] = key_id
    return query


def record_json(doc: dict[str, Any]) -> dict[str, Any]:
    """One API usage record as the API shows it."""
    used = doc.get("usage") or {}
    return {
        "id": str(doc["_id"]),
        "createdAt": iso(doc.get("createdAt")),
        "completedAt": iso(doc.get("completedAt")),
        "apiKeyId": doc.get("apiKeyId"),
        "requestId": doc.get("requestId"),
        "modelId": doc.get("modelId"),
        "status": doc.get("status"),
        "promptTokens": int(used.get("promptTokens") or 0),
        "completionTokens": int(used.get("completionTokens") or 0),
        "totalTokens": int(used.get("totalTokens") or 0),
        "charged": int(doc.get("charged") or 0),
        "errorCode": (doc.get("error") or {}).get("code"),
        "ttftMs": doc.get("ttftMs"),
        "durationMs": doc.get("durationMs"),
    }


# -- the ledger -----------------------------------------------------------------------------------


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
