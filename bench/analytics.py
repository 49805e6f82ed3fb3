"""Analytics over 100,000 messages in 90 days, on its own nx-27017 server.

Seeds (bulk inserts) 1,000 users, 100,000 chat messages (50,000 user turns, each answered by one
assistant message across 6 models, ~5 % failed), one ledger charge per answered turn and 2,000
orders, all spread over 90 days; then times `common.admin.analytics.report` for the 90-day range: the
range ends today, so each call computes its two live days and reads the 88 stored ones. It
times the first call (every day computed and stored), warm calls (day and week), and
`GET /api/admin/analytics` through the Flask app; it prints the figures.

    .venv/bin/python -m bench.analytics [--messages 100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from bson import ObjectId

from common import db
from common.admin import analytics, rollups
from common.conversations.models import ChatMessage
from common.users.models import User
from common.wallet.models import LedgerEntry
from config import load_settings, use_settings
from tests.support.services import REDIS_HOST, REDIS_PORT, mongo_server, private_redis_db

MODELS = [
    "openai/gpt-4o-mini",
    "meta/llama-3.1-8b:free",
    "anthropic/claude-3.5",
    "hf/mistral-7b",
    "local/qwen",
    "google/gemma-2",
]
DAYS = 90
BATCH = 5_000


def _when(rng: random.Random, start: datetime) -> datetime:
    return start + timedelta(seconds=rng.randrange(DAYS * 86_400))


def seed(database, n_messages: int, start: datetime, rng: random.Random) -> None:
    users = [
        {
            "_id": ObjectId(),
            "email": f"bench{i}@example.com",
            "name": f"Bench {i}",
            "role": "user",
            "isActive": True,
            "createdAt": _when(rng, start),
        }
        for i in range(1_000)
    ]
    database["users"].insert_many(users)
    messages, charges = [], []
    for _ in range(n_messages // 2):
        user, when = rng.choice(users)["_id"], _when(rng, start)
        model, tokens = rng.choice(MODELS), rng.randint(20, 2_000)
        failed = rng.random() < 0.05
        messages.append(
            {
                "sessionId": "chat_bench",
                "userId": user,
                "role": "user",
                "content": "hi",
                "status": "done",
                "createdAt": when,
                "day": when.date().isoformat(),
            }
        )
        msg = {
            "_id": _oid_at(when + timedelta(seconds=1), rng),
            "sessionId": "chat_bench",
            "userId": user,
            "role": "assistant",
            "modelId": model,
            "status": "failed" if failed else "done",
            "content": "answer",
            "usage": {
                "promptTokens": tokens // 3,
                "completionTokens": tokens - tokens // 3,
                "totalTokens": 0 if failed else tokens,
            },
            "charged": 0 if failed else tokens,
            "cost": 0.0 if failed else tokens * 1e-6,
            "createdAt": when + timedelta(seconds=1),
            "day": (when + timedelta(seconds=1)).date().isoformat(),
        }
        if not failed:
            msg.update(ttftMs=rng.uniform(80, 900), tokensPerSecond=rng.uniform(10, 120))
            free = rng.randint(0, tokens)
            charges.append(
                {
                    "key": str(msg["_id"]),
                    "user": user,
                    "kind": "charge",
                    "amount": -tokens,
                    "free": -free,
                    "purchased": free - tokens,
                    "source": "chat",
                    "details": {},
                    "applied": True,
                    "createdAt": msg["createdAt"],
                }
            )
        messages.append(msg)
    for name, docs in (("chatmessages", messages), ("ledger", charges)):
        for i in range(0, len(docs), BATCH):
            database[name].insert_many(docs[i : i + BATCH], ordered=False)
    orders = []
    for i in range(2_000):
        status = rng.choice(
            ["paid", "paid", "paid", "failed", "created", "refunded", "partially_refunded"]
        )
        paid = _when(rng, start) if status in analytics.CAPTURED else None
        amount = rng.choice([49_900, 9_900, 199_900])
        orders.append(
            {
                "userId": rng.choice(users)["_id"],
                "planId": {
                    49_900: "pro-monthly",
                    9_900: "pack-small",
                    199_900: "enterprise-monthly",
                }[amount],
                "plan": "pro",
                "tokens": 1000,
                "amount": amount,
                "currency": "INR",
                "status": status,
                "razorpayOrderId": f"order_{i}",
                "receipt": f"r{i}",
                "paidAt": paid,
                "refundedAmount": amount
                if status == "refunded"
                else (1_000 if status == "partially_refunded" else 0),
                "createdAt": paid or _when(rng, start),
            }
        )
    database["orders"].insert_many(orders)


def _oid_at(when: datetime, rng: random.Random) -> ObjectId:
    """An id minted at `when`, as the chat code's would be (ids sort by creation time)."""
    return ObjectId(int(when.timestamp()).to_bytes(4, "big") + rng.randbytes(8))


def _time(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def _line(label: str, ms: list[float]) -> str:
    return f"{label:<44} min {min(ms):7.1f} ms   median {statistics.median(ms):7.1f} ms   max {max(ms):7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(42)
    last = datetime.now(UTC).date()  # the range ends today: 2 live days, 88 stored
    first = last - timedelta(days=DAYS - 1)
    start = datetime.combine(first, datetime.min.time(), UTC)

    with mongo_server() as address, private_redis_db() as redis_db:
        settings = use_settings(
            load_settings(
                {
                    "MONGODB_URI": f"mongodb://{address}/aipasta_bench?directConnection=true",
                    "REDIS_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{redis_db}",
                    "LOG_LEVEL": "WARNING",
                    "RATE_LIMIT_ENABLED": "false",
                }
            )
        )
        from web import create_app

        app = create_app(settings)
        database = db.connect(settings.mongodb_uri)
        for doc in (User, ChatMessage, LedgerEntry):
            doc.ensure_indexes()
        database["orders"].create_index([("status", 1), ("paidAt", 1)])
        t = time.perf_counter()
        seed(database, args.messages, start, rng)
        print(
            f"seeded {database['chatmessages'].estimated_document_count():,} messages, "
            f"{database['ledger'].estimated_document_count():,} ledger entries, "
            f"{database['orders'].estimated_document_count():,} orders, 1,000 users "
            f"in {time.perf_counter() - t:.1f} s"
        )

        day = analytics.Range(first, last, "day")
        week = analytics.Range(first, last, "week")
        t = time.perf_counter()
        stored = rollups.store_final_days()
        print(
            f"beat job analytics.store_final_days (a year, off the request path): "
            f"{stored} days in {(time.perf_counter() - t) * 1000:.0f} ms"
        )
        t = time.perf_counter()
        result = analytics.report(day)
        print(f"first report after the job: {(time.perf_counter() - t) * 1000:.0f} ms")
        print("totals:", result["totals"])
        print("models:", [(m["modelId"], m["requests"], m["avgTtftMs"]) for m in result["models"]])
        print(_line("report(90 days, day)", _time(lambda: analytics.report(day), args.runs)))
        print(_line("report(90 days, week)", _time(lambda: analytics.report(week), args.runs)))
        days = list(rollups.days_of(first, last))
        print(
            _line(
                "  rollups.figures(90 days: 88 stored, 2 live)",
                _time(lambda: rollups.figures(days), args.runs),
            )
        )
        span = {"day": {"$gte": first.isoformat(), "$lte": last.isoformat()}}
        print(
            _line(
                "  read the stored days",
                _time(lambda: list(rollups.stored().find(span)), args.runs),
            )
        )
        print(
            _line(
                "  rollups.charged_by_day(2 days)",
                _time(lambda: rollups.charged_by_day(last - timedelta(days=1), last), args.runs),
            )
        )
        one = first + timedelta(days=45)
        print(_line("  rollups.compute(1 day)", _time(lambda: rollups.compute([one]), args.runs)))
        print(
            _line(
                "  revenue_by_plan(90 days)",
                _time(lambda: analytics.revenue_by_plan(day), args.runs),
            )
        )

        admin = User(email="bench-admin@example.com", name="Admin", role="admin").save()
        with app.app_context():
            from web.security import issue_token

            token = issue_token(admin)
        client = app.test_client()
        url = f"/api/admin/analytics?from={first}&to={last}&granularity=day"
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get(url, headers=headers).status_code == 200

        def call():
            res = client.get(url, headers=headers)
            assert res.status_code == 200, res.get_json()

        print(_line("GET /api/admin/analytics (90 days)", _time(call, args.runs)))


if __name__ == "__main__":
    main()
