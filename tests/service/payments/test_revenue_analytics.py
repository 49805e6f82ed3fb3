"""Admin revenue from payments made through the real flow (verify-payment, webhooks, refunds).

Orders paid this way get `paidAt` from `$currentDate`, unlike rows inserted by a seeder; the
revenue figures must count them on nx-27017 as on MongoDB.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tests.support.http import auth


def _paid(b, plan_id: str) -> dict:
    data = b.order(plan_id)
    pay = b.rzp.pay(data["orderId"])
    assert b.verify(plan_id, data["orderId"], pay["id"]).status_code == 200
    return pay


def _analytics(client, make_admin) -> dict:
    _, token = make_admin(name="Rev Admin")
    today = datetime.now(UTC).date().isoformat()
    res = client.get(f"/api/admin/analytics?from={today}&to={today}", headers=auth(token))
    assert res.status_code == 200, res.get_json()
    return res.get_json()["data"]


def test_revenue_by_plan_counts_payments_made_through_the_api(
    buyer, rzp, deliver, client, make_admin
):
    _paid(buyer(), "pro-monthly")
    _paid(buyer(), "pro-monthly")
    pack = _paid(buyer(), "tokens-50k")
    refund = rzp.refund(pack["id"], 3_300)
    assert (
        deliver("refund.processed", refund=refund, payment=rzp.payment(pack["id"])).status_code
        == 200
    )
    rzp.pay(buyer().order("tokens-250k")["orderId"])  # paid at Razorpay, never verified: no revenue

    data = _analytics(client, make_admin)

    revenue = data["revenue"]
    assert (revenue["payments"], revenue["gross"], revenue["refunded"]) == (3, 109_700, 3_300)
    assert revenue["net"] == 106_400
    by_plan = {p["planId"]: p for p in revenue["byPlan"]}
    assert set(by_plan) == {"pro-monthly", "tokens-50k"}
    assert by_plan["pro-monthly"] == {
        "planId": "pro-monthly",
        "plan": "pro",
        "currency": "INR",
        "payments": 2,
        "tokens": 1_000_000,
        "gross": 99_800,
        "refunded": 0,
        "net": 99_800,
    }
    assert by_plan["tokens-50k"]["net"] == 9_900 - 3_300
    assert data["totals"]["revenue"] == 106_400
    assert data["series"][0]["revenue"] == 106_400  # the daily series agrees
