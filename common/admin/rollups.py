"""Per-day usage figures (requests, tokens, errors, per model, per user, tokens charged).

What was spent — per user, per API key, and each model's tokens charged — comes from the
wallet ledger's answer entries made that day (one per settled answer, chat or API; nothing
deletes them), so deleting a conversation never changes what an admin sees was spent. How the
models behaved — requests of every status, errors, tokens, time to first token, speed — comes
from aggregation pipelines over that day's stored answers (`day` + `role`, indexed). Once a day is
`FROZEN_AFTER_DAYS` old nothing can change it any more — holds are settled or expired within
minutes, and charges are dated when they are made — so its figures are stored in
`analytics_days` and read back instead of recomputed.
A report over 90 days then reads 88 stored days and computes 2. `flask analytics-rebuild`
drops the stored days (they are recomputed on the next report).

Revenue and new users are not rolled up: refunds change past orders, and both are cheap.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo.collection import Collection

from common.admin.models import AnalyticsDay
from common.conversations.models import ChatMessage
from common.stored import grouped_id
from common.wallet.models import LedgerEntry

FROZEN_AFTER_DAYS = 2
KEY_MARGIN = timedelta(days=1)
ERROR_STATUSES = ("failed", "interrupted")
MODEL_SUMS = {
    "requests": 1,
    "promptTokens": "$usage.promptTokens",
    "completionTokens": "$usage.completionTokens",
    "totalTokens": "$usage.totalTokens",
    "charged": "$charged",
    "cost": "$cost",
    "ttftSum": "$ttftMs",
    "tpsSum": "$tokensPerSecond",
}
USER_SUMS = {"requests": 1, "tokens": "$usage.totalTokens", "charged": "$charged"}
KEY_SUMS = {"requests": 1, "tokens": "$usage.totalTokens", "charged": "$charged"}


def stored() -> Collection:
    return AnalyticsDay._get_collection()


def figures(days: list[date], today: date | None = None) -> dict[str, dict]:
    """The figures of each of `days` (consecutive, oldest first), keyed by ISO date."""
    today = today or datetime.now(UTC).date()
    frozen_until = today - timedelta(days=FROZEN_AFTER_DAYS)
    keys = [d.isoformat() for d in days]
    have = {
        doc["day"]: doc["figures"]
        for doc in stored().find(
            {"day": {"$gte": keys[0], "$lte": keys[-1]}}, {"figures": 1, "day": 1}
        )
    }
    need = [d for d in days if d > frozen_until or d.isoformat() not in have]
    fresh = compute(need)
    for d in need:
        if d <= frozen_until:
            _store(d.isoformat(), fresh[d.isoformat()])
    return {k: have[k] if k in have and k not in fresh else fresh[k] for k in keys}


def _store(day: str, figures: dict) -> None:
    stored().update_one(
        {"day": day},
        {"$set": {"figures": figures}, "$currentDate": {"computedAt": True}},
        upsert=True,
    )


def store_final_days(days_back: int = 366, today: date | None = None) -> int:
    """Compute and store every final day of the last `days_back` not stored yet (a beat job),
    so that no admin's report pays for them. Returns how many days were stored now."""
    today = today or datetime.now(UTC).date()
    last = today - timedelta(days=FROZEN_AFTER_DAYS)
    days = list(days_of(today - timedelta(days=days_back), last))
    keys = [d.isoformat() for d in days]
    have = {
        doc["day"]
        for doc in stored().find({"day": {"$gte": keys[0], "$lte": keys[-1]}}, {"day": 1})
    }
    missing = [d for d in days if d.isoformat() not in have]
    for start in range(0, len(missing), 31):  # a month at a time keeps each pipeline small
        chunk = missing[start : start + 31]
        fresh = compute(chunk)
        for d in chunk:
            _store(d.isoformat(), fresh[d.isoformat()])
    return len(missing)


def rebuild() -> int:
    """Forget every stored day; returns how many there were."""
    return stored().delete_many({}).deleted_count


def compute(days: list[date]) -> dict[str, dict]:
    if not days:
        return {}
    charged = charged_by_day(days[0], days[-1])
    zero = {"free": 0, "purchased": 0}
    return {
        d.isoformat(): {**day_usage(d.isoformat()), "charged": charged.get(d.isoformat(), zero)}
        for d in days
    }


# -- one day's messages ------------------------------------------------------------------------


def _group(match: dict, key: str, sums: dict[str, Any]) -> list[dict]:
    fields = {name: {"$sum": value} for name, value in sums.items()}
    pipeline = [{"$match": match}, {"$group": {"_id": f"${key}", **fields}}]
    return list(ChatMessage._get_collection().aggregate(pipeline))


def _counts(match: dict, key: str) -> dict[Any, int]:
    return {row["_id"]: row["n"] for row in _group(match, key, {"n": 1})}


def day_usage(day: str) -> dict:
    """Per model and per user, for the assistant messages (requests) created on `day`.

    Averages keep their sum and count: the count is requests minus the requests where the
    figure is missing (`{field: null}`, a small set), rather than `$cond` or `$avg` — nx-27017
    evaluates `$cond` slowly and counts a missing field as 0 in `$avg`; `$sum` skips missing
    values on both servers.
    """
    match = {"day": day, "role": "assistant"}
    errors = _counts({**match, "status": {"$in": list(ERROR_STATUSES)}}, "modelId")
    no_ttft = _counts({**match, "ttftMs": None}, "modelId")
    no_tps = _counts({**match, "tokensPerSecond": None}, "modelId")
    models = []
    for row in _group(match, "modelId", MODEL_SUMS):
        model = row.pop("_id")
        row = {k: v or 0 for k, v in row.items()}
        row.update(
            modelId=model,
            errors=errors.get(model, 0),
            ttftN=row["requests"] - no_ttft.get(model, 0),
            tpsN=row["requests"] - no_tps.get(model, 0),
        )
        models.append(row)
    spent = spent_on(day)
    for row in models:
        row["charged"] = spent["models"].pop(row["modelId"], {}).get("charged", 0)
    for model, figures in spent["models"].items():  # its answers' messages were deleted
        models.append({**dict.fromkeys(MODEL_SUMS, 0), "modelId": model, "errors": 0})
        models[-1].update(charged=figures["charged"], ttftN=0, tpsN=0)
    users = spent["users"]
    # Parallel lists rather than one object per user: a stored day reads back several times
    # faster (a busy day has a row per active user).
    return {
        "models": models,
        "users": {
            "ids": list(users),
            **{f: [users[u][f] for u in users] for f in ("requests", "tokens", "charged")},
        },
        # Answers asked through the OpenAI-compatible API, per API key.
        "apiKeys": [{"apiKeyId": kid, **figures} for kid, figures in spent["keys"].items()],
    }


def spent_on(day: str) -> dict[str, dict[str, dict]]:
    """The ledger's settled answers charged on `day`, summed per model, user and API key:
    `{"models": {id: {charged}}, "users": {id: {requests, tokens, charged}}, "keys": {...}}`.

    Read with a `find` and summed here: the entries' key is their message id, and ObjectId hex
    sorts by creation time, so a key lower bound `KEY_MARGIN` before the day keeps the scan to
    recent entries on every server (as `charged_by_day`), and the day is matched exactly here.
    """
    start = datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC)
    floor = str(ObjectId.from_datetime(start - KEY_MARGIN))
    query = {"source": {"$in": ["chat", "api"]}, "key": {"$gte": floor}}
    query["createdAt"] = {"$gte": start}
    fields = {"user": 1, "amount": 1, "details": 1, "createdAt": 1}
    out: dict[str, dict[str, dict]] = {"models": {}, "users": {}, "keys": {}}
    for entry in LedgerEntry._get_collection().find(query, fields):
        details = entry.get("details") or {}
        created = entry.get("createdAt")
        if details.get("status") not in ("done", "cancelled") or _iso_day(created) != day:
            continue
        row = {"requests": 1, "tokens": _tokens(details), "charged": -int(entry["amount"] or 0)}
        _add(out["models"], details.get("modelId") or "unknown", {"charged": row["charged"]})
        _add(out["users"], str(grouped_id(entry["user"])), row)
        if details.get("apiKeyId"):
            _add(out["keys"], str(details["apiKeyId"]), row)
    return out


def _add(into: dict[str, dict], key: str, row: dict) -> None:
    bucket = into.setdefault(key, dict.fromkeys(row, 0))
    for name, value in row.items():
        bucket[name] += value


def _tokens(details: dict) -> int:
    if details.get("tokens") is not None:
        return int(details["tokens"])
    used = details.get("usage") or {}
    return int(used.get("prompt") or 0) + int(used.get("completion") or 0)


def _iso_day(value) -> str:
    return value.date().isoformat() if isinstance(value, datetime) else str(value or "")[:10]


# -- grouping any collection by day ------------------------------------------------------------


def by_day(
    collection: Collection, field: str, first: date, last: date, match: dict, sums: dict
) -> dict[str, dict]:
    """`$sum`s per UTC day of `field`, for the days `first`..`last`.

    The `$gte` lower bound is the index bound on MongoDB (nx-27017 cannot compare dates in
    `$match` and selects everything); matching the day keys after the `$group` makes the
    result exact on both.
    """
    start = datetime.combine(first, datetime.min.time(), UTC)
    day = {"$dateToString": {"format": "%Y-%m-%d", "date": f"${field}"}}
    fields = {name: {"$sum": value} for name, value in sums.items()}
    rows = collection.aggregate(
        [
            {"$match": {field: {"$gte": start}, **match}},
            {"$group": {"_id": day, **fields}},
            {"$match": {"_id": {"$gte": first.isoformat(), "$lte": last.isoformat()}}},
        ]
    )
    return {row["_id"]: {k: v or 0 for k, v in row.items() if k != "_id"} for row in rows}


def by_key_in_days(
    collection: Collection,
    field: str,
    first: date,
    last: date,
    match: dict,
    key: str,
    accumulators: dict,
) -> list[dict]:
    """`accumulators` (e.g. `{"n": {"$sum": 1}}`) per value of `key`, over the documents whose
    `field` falls on the UTC days `first`..`last`.

    The same shape as `by_day`, for a grouping other than the day: a `$gte` bound, then the
    day as text beside each document, matched as a string range, then the `$group`. A date
    range on `field` itself cannot be used on nx-27017: combined with another condition (an
    `$in` on the status) it drops the documents whose date was written by `$currentDate` —
    every real payment — while keeping dates written by an insert.
    """
    start = datetime.combine(first, datetime.min.time(), UTC)
    day = {"$dateToString": {"format": "%Y-%m-%d", "date": f"${field}"}}
    rows = collection.aggregate(
        [
            {"$match": {field: {"$gte": start}, **match}},
            {"$addFields": {"_day": day}},
            {"$match": {"_day": {"$gte": first.isoformat(), "$lte": last.isoformat()}}},
            {"$group": {"_id": f"${key}", **accumulators}},
        ]
    )
    return list(rows)


def charged_by_day(first: date, last: date) -> dict[str, dict]:
    """Chat charges in the ledger per day they were made, positive (they are negative there).

    A chat charge's key is its message id, and ObjectId hex sorts by creation time: a key lower
    bound `KEY_MARGIN` before the range keeps the scan to recent entries on every server
    (nx-27017 cannot bound the date itself; on MongoDB it is the unique `key` index), and the
    day match after grouping keeps the result exact — a request is charged within minutes.
    """
    start = datetime.combine(first, datetime.min.time(), UTC)
    floor = str(ObjectId.from_datetime(start - KEY_MARGIN))
    sums = {"free": "$free", "purchased": "$purchased"}
    match = {"kind": "charge", "key": {"$gte": floor}}
    rows = by_day(LedgerEntry._get_collection(), "createdAt", first, last, match, sums)
    return {d: {"free": -row["free"], "purchased": -row["purchased"]} for d, row in rows.items()}


def days_of(first: date, last: date) -> Iterable[date]:
    return (first + timedelta(days=n) for n in range((last - first).days + 1))
