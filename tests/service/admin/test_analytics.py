"""Analytics against a seeded data set whose totals are worked out by hand below.

Range 2025-03-03 (a Monday) to 2025-03-16: two ISO weeks. Rows just outside it (03-02 23:59,
03-17 00:00, 03-18) must not count.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from common.conversations.models import ChatMessage
from common.users.models import User
from common.wallet.service import _ledger as ledger
from tests.support.seed import assistant_doc, at, order_doc, orders

RANGE = "from=2025-03-03&to=2025-03-16"


@pytest.fixture
def seeded():
    u1 = User(email="u1@example.com", name="One", createdAt=at("2025-03-03")).save()
    u2 = User(email="u2@example.com", name="Two", createdAt=at("2025-03-10")).save()
    u3 = User(email="u3@example.com", name="Three", createdAt=at("2025-03-20")).save()
    late = datetime(2025, 3, 16, 23, 59, 59, tzinfo=UTC)
    messages = [
        assistant_doc(
            u1.id, at("2025-03-03", 10), "m/a", 100, ttftMs=200.0, tokensPerSecond=50.0, cost=0.01
        ),
        assistant_doc(u1.id, at("2025-03-04"), "m/a", 300, status="failed", charged=0),
        assistant_doc(
            u2.id, at("2025-03-10"), "m/b", 50, ttftMs=100.0, tokensPerSecond=20.0, cost=0.002
        ),
        assistant_doc(u2.id, late, "m/a", 200, ttftMs=400.0),
        assistant_doc(u1.id, late + timedelta(seconds=1), "m/a", 1000),  # 03-17: outside
        assistant_doc(u3.id, at("2025-03-02", 23), "m/b", 1000),  # outside
        {**assistant_doc(u3.id, at("2025-03-05"), "m/a", 0), "role": "user"},  # not a request
    ]
    ChatMessage._get_collection().insert_many(messages)  # sets each "_id"
    ids = [str(m["_id"]) for m in messages]

    def entry(key, user, when, kind, free, purchased, model=None, tokens=0):
        answer = {"status": "done", "modelId": model, "tokens": tokens} if model else {}
        return {
            "key": key,
            "user": user.id,
            "kind": kind,
            "amount": free + purchased,
            "free": free,
            "purchased": purchased,
            "source": "chat",
            "details": answer,
            "applied": True,
            "createdAt": when,
        }

    ledger().insert_many(
        [
            entry(ids[0], u1, at("2025-03-03"), "charge", -100, 0, "m/a", 100),
            entry(ids[2], u2, at("2025-03-10"), "charge", -30, -20, "m/b", 50),
            entry(ids[3], u2, late, "charge", 0, -200, "m/a", 200),
            entry(ids[4], u1, at("2025-03-17"), "charge", -1000, 0, "m/a", 1000),  # outside
            entry("k1", u1, at("2025-03-05"), "credit", 0, 500),  # not a charge
            entry("admin-deduct-x", u1, at("2025-03-05"), "debit", -7, 0),  # not a chat charge
        ]
    )
    orders().insert_many(
        [
            order_doc(u1.id, "pro-monthly", 49_900, "paid", at("2025-03-05")),
            order_doc(u2.id, "pro-monthly", 49_900, "partially_refunded", at("2025-03-12"), 10_000),
            order_doc(u2.id, "pack-small", 9_900, "paid", at("2025-03-11")),
            order_doc(u1.id, "pack-small", 9_900, "refunded", at("2025-03-13"), 9_900),
            order_doc(u1.id, "pro-monthly", 49_900, "failed", None),
            order_doc(u1.id, "pro-monthly", 49_900, "created", None),
            order_doc(u3.id, "pro-monthly", 49_900, "paid", at("2025-03-18")),  # outside
        ]
    )
    return u1, u2, u3


def _get(client, headers, query):
    res = client.get(f"/api/admin/analytics?{query}", headers=headers)
    assert res.status_code == 200, res.get_json()
    return res.get_json()["data"]


def test_totals_models_revenue_and_top_users(client, admin, seeded):
    u1, u2, _ = seeded
    data = _get(client, admin[1], RANGE)
    assert data["range"] == {
        "from": "2025-03-03",
        "to": "2025-03-16",
        "granularity": "day",
        "days": 14,
    }
    assert data["totals"] == {
        "newUsers": 2,
        "activeUsers": 2,
        "requests": 4,
        "tokens": 650,
        "errors": 1,
        "charged": {"free": 130, "purchased": 220, "total": 350},
        "revenue": 99_700,
    }
    model_a, model_b = data["models"]
    assert model_a == {
        "modelId": "m/a",
        "requests": 3,
        "errors": 1,
        "errorRate": 0.3333,
        "promptTokens": 50 + 150 + 100,
        "completionTokens": 50 + 150 + 100,
        "totalTokens": 600,
        "charged": 300,
        "cost": 0.01,
        "avgTtftMs": 300.0,
        "avgTokensPerSecond": 50.0,
    }
    assert model_b["modelId"] == "m/b" and model_b["requests"] == 1 and model_b["errorRate"] == 0
    assert (model_b["avgTtftMs"], model_b["avgTokensPerSecond"], model_b["cost"]) == (
        100.0,
        20.0,
        0.002,
    )

    revenue = data["revenue"]
    assert (revenue["payments"], revenue["gross"], revenue["refunded"], revenue["net"]) == (
        4,
        119_600,
        19_900,
        99_700,
    )
    by_plan = {p["planId"]: p for p in revenue["byPlan"]}
    assert by_plan["pro-monthly"] == {
        "planId": "pro-monthly",
        "plan": "pro",
        "currency": "INR",
        "payments": 2,
        "tokens": 2000,
        "gross": 99_800,
        "refunded": 10_000,
        "net": 89_800,
    }
    assert (by_plan["pack-small"]["payments"], by_plan["pack-small"]["net"]) == (2, 9_900)

    # What was spent comes from the ledger: a failed request spends nothing, so u1 has one.
    assert data["topUsers"] == [
        {
            "userId": str(u2.id),
            "email": "u2@example.com",
            "name": "Two",
            "requests": 2,
            "tokens": 250,
            "charged": 250,
        },
        {
            "userId": str(u1.id),
            "email": "u1@example.com",
            "name": "One",
            "requests": 1,
            "tokens": 100,
            "charged": 100,
        },
    ]
    assert len(_get(client, admin[1], RANGE + "&top=1")["topUsers"]) == 1


def test_daily_series(client, admin, seeded):
    series = _get(client, admin[1], RANGE)["series"]
    assert [s["period"] for s in series] == [f"2025-03-{d:02d}" for d in range(3, 17)]
    first, last = series[0], series[-1]
    assert first == {
        "period": "2025-03-03",
        "newUsers": 1,
        "requests": 1,
        "tokens": 100,
        "errors": 0,
        "charged": {"free": 100, "purchased": 0, "total": 100},
        "revenue": 0,
        "activeUsers": 1,
    }
    assert (last["requests"], last["tokens"], last["charged"]["purchased"]) == (1, 200, 200)
    assert series[2]["revenue"] == 49_900  # 03-05
    assert sum(s["requests"] for s in series) == 4
    assert sum(s["revenue"] for s in series) == 99_700


def test_weekly_series(client, admin, seeded):
    week1, week2 = _get(client, admin[1], RANGE + "&granularity=week")["series"]
    assert week1 == {
        "period": "2025-03-03",
        "newUsers": 1,
        "requests": 2,
        "tokens": 400,
        "errors": 1,
        "charged": {"free": 100, "purchased": 0, "total": 100},
        "revenue": 49_900,
        "activeUsers": 1,
    }
    assert week2 == {
        "period": "2025-03-10",
        "newUsers": 1,
        "requests": 2,
        "tokens": 250,
        "errors": 0,
        "charged": {"free": 30, "purchased": 220, "total": 250},
        "revenue": 49_800,
        "activeUsers": 1,
    }


def test_a_week_bucket_is_labelled_by_its_monday(client, admin, seeded):
    series = _get(client, admin[1], "from=2025-03-05&to=2025-03-11&granularity=week")["series"]
    assert [s["period"] for s in series] == ["2025-03-03", "2025-03-10"]
    assert [s["requests"] for s in series] == [0, 1]


def test_default_range_is_the_last_30_days(client, admin):
    data = _get(client, admin[1], "")
    today = datetime.now(UTC).date()
    assert data["range"]["to"] == today.isoformat() and data["range"]["days"] == 30
    assert len(data["series"]) == 30
    assert data["totals"]["newUsers"] == 1  # the admin, registered just now


@pytest.mark.parametrize(
    "query",
    [
        "from=2025-03-10&to=2025-03-01",
        "from=2024-01-01&to=2025-01-01",  # 367 days
        "granularity=month",
        "from=yesterday",
        "to=2025-02-30",
        "top=0",
        "top=101",
    ],
)
def test_bad_ranges_are_400(client, admin, query):
    res = client.get(f"/api/admin/analytics?{query}", headers=admin[1])
    assert res.status_code == 400 and res.get_json()["code"] == "VALIDATION_ERROR"


def test_366_days_is_allowed(client, admin):
    data = _get(client, admin[1], "from=2024-01-01&to=2024-12-31")
    assert data["range"]["days"] == 366
