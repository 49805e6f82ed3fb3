"""Usage and revenue figures for a date range, from MongoDB aggregation pipelines.

Usage comes per UTC day from `common.admin.rollups` (pipelines over one day's messages, stored
once the day is final); this module merges the days into the answer: a series per day or ISO
week (Monday first), totals, per-model figures and the top users (joined to their email here,
not with `$lookup`). New users and revenue are grouped per day over the range directly.

What the figures mean:
- per model — requests: assistant messages (one per model per send), any status; errors:
  those that ended `failed` or `interrupted`; tokens: their `usage.totalTokens` (the stored
  answers: how the models behaved).
- what was spent — per model `charged`, per user and per API key `requests`, `tokens` and
  `charged` — comes from the wallet ledger's settled answers (one entry each, chat or API;
  nothing deletes them), so deleting a conversation never changes it.
- active users: distinct users with at least one settled answer.
- average time to first token / tokens per second: over the requests that recorded them.
- tokens charged (series, totals): chat charges in the wallet ledger, free vs purchased.
- revenue: orders whose payment was captured (paid, refunded, partially refunded), by the day
  of `paidAt`, net of refunds; amounts in paise.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from common import db
from common.admin import rollups
from common.apikeys.models import ApiKey
from common.errors import ValidationError
from common.redis_client import get_redis
from common.stored import grouped_id
from common.users.models import User

MAX_DAYS = 366
DEFAULT_DAYS = 30
CAPTURED = ("paid", "refunded", "partially_refunded")


@dataclass(frozen=True)
class Range:
    """Whole UTC days `first`..`last`, both included."""

    first: date
    last: date
    granularity: str = "day"

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min, UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time.min, UTC)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


MIN_YEAR, MAX_YEAR = 2000, 2999


def make_range(first: date | None, last: date | None, granularity: str = "day") -> Range:
    """The requested days; by default the `DEFAULT_DAYS` ending today (UTC)."""
    last = last or datetime.now(UTC).date()
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    for name, day in (("from", first), ("to", last)):
        # BSON dates (ms since 1970) cannot hold far years; no usage exists outside these anyway
        if not MIN_YEAR <= day.year <= MAX_YEAR:
            raise ValidationError(
                f"{name} must be between {MIN_YEAR} and {MAX_YEAR}", {"field": name}
            )
    if first > last:
        raise ValidationError("from must not be after to", {"field": "from"})
    days = (last - first).days + 1
    if days > MAX_DAYS:
        raise ValidationError(
            f"The range covers {days} days; at most {MAX_DAYS} are allowed.",
            {"field": "to", "maxDays": MAX_DAYS},
        )
    return Range(first, last, granularity)


def report(r: Range, top: int = 10) -> dict[str, Any]:
    """Every figure for the range: totals, a series per day or week, per-model, revenue, top users."""
    days = rollups.figures(list(rollups.days_of(r.first, r.last)))
    new_users = rollups.by_day(User._get_collection(), "createdAt", r.first, r.last, {}, {"n": 1})
    revenue_days = _daily_revenue(r)
    series = _series(r, days, new_users, revenue_days)
    revenue = revenue_by_plan(r)
    return {
        "range": {
            "from": r.first.isoformat(),
            "to": r.last.isoformat(),
            "granularity": r.granularity,
            "days": r.days,
        },
        "totals": _totals(series, days, revenue),
        "series": series,
        "models": per_model(days),
        "revenue": revenue,
        "topUsers": top_users(days, top),
        "apiKeys": per_api_key(days),
    }


# -- revenue -----------------------------------------------------------------------------------


def _orders():
    return db.get_db()["orders"]


def _daily_revenue(r: Range) -> dict[str, int]:
    sums = {"gross": "$amount", "refunded": "$refundedAmount"}
    match = {"status": {"$in": list(CAPTURED)}}
    rows = rollups.by_day(_orders(), "paidAt", r.first, r.last, match, sums)
    return {d: row["gross"] - row["refunded"] for d, row in rows.items()}


def revenue_by_plan(r: Range) -> dict[str, Any]:
    """Captured payments per plan, by the day of `paidAt` (the same days as the series)."""
    accumulators = {
        "plan": {"$max": "$plan"},
        "currency": {"$max": "$currency"},
        "payments": {"$sum": 1},
        "gross": {"$sum": "$amount"},
        "refunded": {"$sum": "$refundedAmount"},
        "tokens": {"$sum": "$tokens"},
    }
    match = {"status": {"$in": list(CAPTURED)}}
    rows = rollups.by_key_in_days(
        _orders(), "paidAt", r.first, r.last, match, "planId", accumulators
    )
    plans = []
    for row in rows:
        gross, refunded = row["gross"] or 0, row["refunded"] or 0
        plans.append(
            {
                "planId": row["_id"],
                "plan": row["plan"],
                "currency": row["currency"],
                "payments": row["payments"],
                "tokens": row["tokens"] or 0,
                "gross": gross,
                "refunded": refunded,
                "net": gross - refunded,
            }
        )
    plans.sort(key=lambda p: (-p["net"], str(p["planId"])))
    totals = {k: sum(p[k] for p in plans) for k in ("payments", "gross", "refunded", "net")}
    return {"byPlan": plans, **totals}


# -- merging days ------------------------------------------------------------------------------

_MODEL_SUMS = (
    "requests",
    "errors",
    "promptTokens",
    "completionTokens",
    "totalTokens",
    "charged",
    "cost",
    "ttftSum",
    "ttftN",
    "tpsSum",
    "tpsN",
)


def per_model(days: dict[str, dict]) -> list[dict]:
    merged: dict[str, dict] = {}
    for figures in days.values():
        for row in figures["models"]:
            m = merged.setdefault(row["modelId"], dict.fromkeys(_MODEL_SUMS, 0))
            for k in _MODEL_SUMS:
                m[k] += row.get(k, 0)
    models = [_model_row(model, m) for model, m in merged.items()]
    models.sort(key=lambda m: (-m["requests"], str(m["modelId"])))
    return models


def _model_row(model: str, m: dict) -> dict:
    requests, errors = m["requests"], m["errors"]
    return {
        "modelId": model,
        "requests": requests,
        "errors": errors,
        "errorRate": round(errors / requests, 4) if requests else 0.0,
        "promptTokens": m["promptTokens"],
        "completionTokens": m["completionTokens"],
        "totalTokens": m["totalTokens"],
        "charged": m["charged"],
        "cost": round(m["cost"], 6),
        "avgTtftMs": round(m["ttftSum"] / m["ttftN"], 1) if m["ttftN"] else None,
        "avgTokensPerSecond": round(m["tpsSum"] / m["tpsN"], 2) if m["tpsN"] else None,
    }


def top_users(days: dict[str, dict], limit: int = 10) -> list[dict]:
    """The heaviest users by tokens used in the range, with their email and name."""
    merged: dict[str, dict] = {}
    for figures in days.values():
        users = figures["users"]
        for i, uid in enumerate(users["ids"]):
            u = merged.setdefault(uid, {"requests": 0, "tokens": 0, "charged": 0})
            for k in u:
                u[k] += users[k][i]
    ranked = sorted(merged.items(), key=lambda kv: (-kv[1]["tokens"], -kv[1]["requests"], kv[0]))
    ranked = ranked[:limit]
    ids = [grouped_id(uid) for uid, _ in ranked]
    people = {
        str(doc["_id"]): doc
        for doc in User._get_collection().find(
            {"_id": {"$in": [i for i in ids if i]}}, {"email": 1, "name": 1}
        )
    }
    return [
        {
            "userId": uid,
            "email": people.get(uid, {}).get("email"),
            "name": people.get(uid, {}).get("name"),
            **u,
        }
        for uid, u in ranked
    ]


def per_api_key(days: dict[str, dict]) -> list[dict]:
    """Usage through each API key in the range (`/v1`), with its name, prefix and owner.
    Days stored before keys existed have no `apiKeys` figures: they had no API usage."""
    merged: dict[str, dict] = {}
    for figures in days.values():
        for row in figures.get("apiKeys", []):
            k = merged.setdefault(row["apiKeyId"], {"requests": 0, "tokens": 0, "charged": 0})
            for name in k:
                k[name] += row.get(name, 0)
    ids = [grouped_id(kid) for kid in merged]
    stored = {
        str(doc["_id"]): doc
        for doc in ApiKey._get_collection().find(
            {"_id": {"$in": [i for i in ids if i]}}, {"name": 1, "prefix": 1, "userId": 1}
        )
    }
    rows = [
        {
            "apiKeyId": kid,
            "name": stored.get(kid, {}).get("name"),
            "prefix": stored.get(kid, {}).get("prefix"),
            "userId": str(stored[kid]["userId"]) if kid in stored else None,
            **k,
        }
        for kid, k in merged.items()
    ]
    return sorted(rows, key=lambda r: (-r["tokens"], -r["requests"], r["apiKeyId"]))


def _bucket(day: date, granularity: str) -> date:
    return day - timedelta(days=day.weekday()) if granularity == "week" else day


def _series(r: Range, days: dict[str, dict], new_users: dict, revenue: dict) -> list[dict]:
    buckets: dict[date, dict] = {}
    users: dict[date, set] = defaultdict(set)
    for day in rollups.days_of(r.first, r.last):
        key, start = day.isoformat(), _bucket(day, r.granularity)
        b = buckets.setdefault(start, _empty_bucket())
        figures = days[key]
        for m in figures["models"]:
            b["requests"] += m["requests"]
            b["tokens"] += m["totalTokens"]
            b["errors"] += m["errors"]
        users[start].update(figures["users"]["ids"])
        b["charged"]["free"] += figures["charged"]["free"]
        b["charged"]["purchased"] += figures["charged"]["purchased"]
        b["newUsers"] += (new_users.get(key) or {}).get("n", 0)
        b["revenue"] += revenue.get(key, 0)
    out = []
    for start, b in sorted(buckets.items()):
        b["charged"]["total"] = b["charged"]["free"] + b["charged"]["purchased"]
        out.append({"period": start.isoformat(), **b, "activeUsers": len(users[start])})
    return out


def _empty_bucket() -> dict:
    return {
        "newUsers": 0,
        "requests": 0,
        "tokens": 0,
        "errors": 0,
        "charged": {"free": 0, "purchased": 0},
        "revenue": 0,
    }


def _totals(series: list[dict], days: dict[str, dict], revenue: dict) -> dict:
    """Sums of the series, except active users: distinct over the whole range."""
    free = sum(s["charged"]["free"] for s in series)
    purchased = sum(s["charged"]["purchased"] for s in series)
    return {
        "newUsers": sum(s["newUsers"] for s in series),
        "activeUsers": len({uid for f in days.values() for uid in f["users"]["ids"]}),
        "requests": sum(s["requests"] for s in series),
        "tokens": sum(s["tokens"] for s in series),
        "errors": sum(s["errors"] for s in series),
        "charged": {"free": free, "purchased": purchased, "total": free + purchased},
        "revenue": revenue["net"],
    }


# -- what every user may see: how fast each model answered lately --------------------------------

SPEEDS_KEY = "aipasta:catalog:speeds"
SPEEDS_DAYS = 7
SPEEDS_CACHE_SECONDS = 300


def model_speeds() -> dict[str, dict]:
    """Per model, over the last `SPEEDS_DAYS` days of everyone's answers: the mean time to first
    token, the mean tokens per second and how many answers they come from (no user data). Kept
    in Redis for `SPEEDS_CACHE_SECONDS`: the picker asks once per page load."""
    cached = get_redis().get(SPEEDS_KEY)
    if cached:
        return json.loads(cached)
    last = datetime.now(UTC).date()
    days = rollups.figures(list(rollups.days_of(last - timedelta(days=SPEEDS_DAYS - 1), last)))
    speeds = {
        m["modelId"]: {
            "ttftMs": m["avgTtftMs"],
            "tokensPerSecond": m["avgTokensPerSecond"],
            "answers": m["requests"],
        }
        for m in per_model(days)
        if m["modelId"] and (m["avgTtftMs"] is not None or m["avgTokensPerSecond"] is not None)
    }
    get_redis().set(SPEEDS_KEY, json.dumps(speeds), ex=SPEEDS_CACHE_SECONDS)
    return speeds
