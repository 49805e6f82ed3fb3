"""Plans, orders and verify-payment through the API, against a local Razorpay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from common.payments.models import Order, PaymentEvent
from common.stored import as_utc
from common.users.models import PLAN_LIMITS
from common.wallet.models import LedgerEntry
from common.wallet.reconcile import reconcile
from tests.fakes.razorpay import sign_payment


def test_happy_path_pro(buyer, rzp, client):
    b = buyer(name="Asha Buyer")
    data = b.order("pro-monthly")
    assert set(data) >= {"orderId", "amount", "currency", "keyId", "plan", "prefill"}
    assert data["amount"] == 49_900 and data["currency"] == "INR"
    assert data["keyId"] == rzp.key_id
    assert data["plan"]["id"] == "pro-monthly"
    assert data["prefill"] == {"name": "Asha Buyer", "email": b.user["email"]}
    method, path, sent = rzp.requests[-1]
    assert (method, path) == ("POST", "/v1/orders")
    assert sent["notes"]["userId"] == b.user["id"] and sent["notes"]["planId"] == "pro-monthly"
    assert sent["amount"] == 49_900 and sent["receipt"].startswith("rcpt_")

    payment = rzp.pay(data["orderId"])
    res = b.verify("pro-monthly", data["orderId"], payment["id"])
    assert res.status_code == 200, res.get_json()
    body = res.get_json()["data"]
    user = body["user"]
    assert user["tokens"]["purchasedTokens"] == 500_000
    assert user["tokens"]["balance"] == 10_000 + 500_000
    assert user["subscription"]["plan"] == "pro"
    assert user["subscription"]["limits"] == PLAN_LIMITS["pro"]
    expires = datetime.fromisoformat(user["subscription"]["expiresAt"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=5)
    assert body["payment"]["status"] == "paid"
    assert body["payment"]["razorpayPaymentId"] == payment["id"]
    assert LedgerEntry.objects(key=f"rzp-{payment['id']}").count() == 1

    listed = client.get("/api/user/payments", headers=b.headers).get_json()["data"]
    assert listed["total"] == 1 and listed["payments"][0]["razorpayOrderId"] == data["orderId"]
    assert reconcile() == []


def _balance(buyer) -> tuple[int, int]:
    doc = buyer.doc()
    return doc.tokens.balance, doc.tokens.purchasedTokens


def test_plans_listed_publicly_and_seed_is_idempotent(app, client, rzp):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-plans"])
    second = runner.invoke(args=["seed-plans"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert "0 written, 4 already there" in second.output
    res = client.get("/api/plans")
    assert res.status_code == 200
    listed = res.get_json()["data"]["plans"]
    assert [p["id"] for p in listed] == [
        "tokens-50k",
        "tokens-250k",
        "pro-monthly",
        "enterprise-monthly",
    ]
    pro = listed[2]
    assert pro == {
        "id": "pro-monthly",
        "name": "Pro",
        "description": pro["description"],
        "buys": pro["buys"],  # tests/service/payments/test_plan_descriptions.py
        "price": 49_900,
        "currency": "INR",
        "tokens": 500_000,
        "plan": "pro",
        "durationDays": 30,
        "limits": PLAN_LIMITS["pro"],
        "unlocksPaidModels": True,
        "isActive": True,
    }
    from common.payments.models import Plan

    Plan.objects(id="tokens-50k").update_one(set__isActive=False)
    ids = [p["id"] for p in client.get("/api/plans").get_json()["data"]["plans"]]
    assert "tokens-50k" not in ids and len(ids) == 3


def test_replayed_verify_is_idempotent(buyer, rzp):
    b = buyer()
    data = b.order()
    payment = rzp.pay(data["orderId"])
    first = b.verify("pro-monthly", data["orderId"], payment["id"])
    second = b.verify("pro-monthly", data["orderId"], payment["id"])
    assert first.status_code == second.status_code == 200
    one, two = first.get_json()["data"], second.get_json()["data"]
    assert one["user"]["tokens"] == two["user"]["tokens"]
    assert one["user"]["subscription"] == two["user"]["subscription"]
    assert one["payment"] == two["payment"]
    assert _balance(b) == (510_000, 500_000)
    assert reconcile() == []


def test_bad_and_missing_signature_change_nothing(buyer, rzp):
    b = buyer()
    data = b.order()
    payment = rzp.pay(data["orderId"])
    bad = b.verify("pro-monthly", data["orderId"], payment["id"], signature="0" * 64)
    assert bad.status_code == 400
    assert bad.get_json()["code"] == "VALIDATION_ERROR"
    assert bad.get_json()["details"]["field"] == "razorpay_signature"
    forged = sign_payment(data["orderId"], payment["id"], "not-the-secret")
    wrong_secret = b.verify("pro-monthly", data["orderId"], payment["id"], signature=forged)
    assert wrong_secret.status_code == 400
    missing = b.client.post(
        "/api/plans/pro-monthly/verify-payment",
        json={"razorpay_order_id": data["orderId"], "razorpay_payment_id": payment["id"]},
        headers=b.headers,
    )
    assert missing.status_code == 400 and missing.get_json()["code"] == "VALIDATION_ERROR"
    operator = b.client.post(
        "/api/plans/pro-monthly/verify-payment",
        json={
            "razorpay_order_id": {"$ne": None},
            "razorpay_payment_id": payment["id"],
            "razorpay_signature": "x",
        },
        headers=b.headers,
    )
    assert operator.status_code == 400
    order = Order.objects.get(razorpayOrderId=data["orderId"])
    assert order.status == "created" and order.razorpayPaymentId is None
    assert _balance(b) == (10_000, 0)
    assert b.doc().subscription.plan == "free"
    assert reconcile() == []


def test_another_users_order_is_not_found(buyer, rzp):
    owner, other = buyer(), buyer()
    data = owner.order()
    payment = rzp.pay(data["orderId"])
    res = other.verify("pro-monthly", data["orderId"], payment["id"])
    assert res.status_code == 404 and res.get_json()["code"] == "NOT_FOUND"
    assert _balance(owner) == (10_000, 0) and _balance(other) == (10_000, 0)
    assert Order.objects.get(razorpayOrderId=data["orderId"]).status == "created"


def test_plan_in_path_must_match_the_order(buyer, rzp):
    b = buyer()
    data = b.order("tokens-50k")
    payment = rzp.pay(data["orderId"])
    res = b.verify("pro-monthly", data["orderId"], payment["id"])
    assert res.status_code == 400 and res.get_json()["code"] == "VALIDATION_ERROR"
    assert _balance(b) == (10_000, 0)


def test_order_paid_by_another_payment_is_a_conflict(buyer, rzp):
    b = buyer()
    data = b.order("tokens-50k")
    first, second = rzp.pay(data["orderId"]), rzp.pay(data["orderId"])
    assert b.verify("tokens-50k", data["orderId"], first["id"]).status_code == 200
    res = b.verify("tokens-50k", data["orderId"], second["id"])
    assert res.status_code == 409 and res.get_json()["code"] == "CONFLICT"
    assert _balance(b) == (60_000, 50_000)
    assert PaymentEvent.objects(outcome="conflict", razorpayPaymentId=second["id"]).count() == 1
    assert reconcile() == []


def test_verify_rejects_a_payment_that_does_not_match_the_order(buyer, rzp):
    b = buyer()
    data = b.order("pro-monthly")
    cheap = rzp.pay(data["orderId"], amount=100)
    res = b.verify("pro-monthly", data["orderId"], cheap["id"])
    assert res.status_code == 400 and "amount" in res.get_json()["message"]
    dollars = rzp.pay(data["orderId"], currency="USD")
    res = b.verify("pro-monthly", data["orderId"], dollars["id"])
    assert res.status_code == 400 and "currency" in res.get_json()["message"]
    assert _balance(b) == (10_000, 0)
    assert b.doc().subscription.plan == "free"
    assert Order.objects.get(razorpayOrderId=data["orderId"]).status == "created"
    assert PaymentEvent.objects(source="verify", outcome="rejected").count() == 2
    assert reconcile() == []


def test_token_pack_keeps_the_subscription(buyer, rzp):
    b = buyer()
    data = b.order("pro-monthly")
    pay = rzp.pay(data["orderId"])
    expires = b.verify("pro-monthly", data["orderId"], pay["id"]).get_json()["data"]["user"][
        "subscription"
    ]["expiresAt"]
    pack = b.order("tokens-50k")
    pay = rzp.pay(pack["orderId"])
    user = b.verify("tokens-50k", pack["orderId"], pay["id"]).get_json()["data"]["user"]
    assert user["subscription"]["plan"] == "pro"
    assert user["subscription"]["expiresAt"] == expires
    assert user["tokens"]["purchasedTokens"] == 550_000


def test_subscription_extends_from_the_later_of_now_and_expiry(buyer, rzp):
    b = buyer()
    for _ in range(2):
        data = b.order("pro-monthly")
        pay = rzp.pay(data["orderId"])
        assert b.verify("pro-monthly", data["orderId"], pay["id"]).status_code == 200
    expires = as_utc(b.doc().subscription.expiresAt)
    assert abs(expires - (datetime.now(UTC) + timedelta(days=60))) < timedelta(minutes=5)

    from common.payments import subscriptions

    # An expired subscription restarts from now, not from the old expiry.
    past = datetime.now(UTC) - timedelta(days=10)
    sub = {"plan": "pro", "expiresAt": past, "limits": PLAN_LIMITS["pro"], "rev": 9, "orders": []}
    b.doc()._get_collection().update_one({"_id": b.doc().id}, {"$set": {"subscription": sub}})
    data = b.order("enterprise-monthly")
    pay = rzp.pay(data["orderId"])
    user = b.verify("enterprise-monthly", data["orderId"], pay["id"]).get_json()["data"]["user"]
    assert user["subscription"]["plan"] == "enterprise"
    assert user["subscription"]["limits"] == PLAN_LIMITS["enterprise"]
    expires = datetime.fromisoformat(user["subscription"]["expiresAt"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=5)
    assert subscriptions.limits_for("pro", {"requestsPerDay": 7}) == {
        "requestsPerDay": 7,
        "tokensPerMonth": PLAN_LIMITS["pro"]["tokensPerMonth"],
    }


def test_plan_with_its_own_limits(buyer, rzp):
    from common.payments.models import Plan, PlanLimits

    Plan(
        id="pro-lite",
        name="Pro Lite",
        price=19_900,
        tokens=0,
        plan="pro",
        durationDays=7,
        limits=PlanLimits(requestsPerDay=200),
    ).save()
    b = buyer()
    data = b.order("pro-lite")
    assert data["plan"]["limits"]["requestsPerDay"] == 200
    pay = rzp.pay(data["orderId"])
    user = b.verify("pro-lite", data["orderId"], pay["id"]).get_json()["data"]["user"]
    assert user["subscription"]["limits"] == {
        "requestsPerDay": 200,
        "tokensPerMonth": PLAN_LIMITS["pro"]["tokensPerMonth"],
    }
    assert user["tokens"]["purchasedTokens"] == 0


def test_create_order_errors(buyer, rzp, client, settings_override):
    b = buyer()
    assert client.post("/api/plans/pro-monthly/create-order").status_code == 401
    missing = b.create_order("no-such-plan")
    assert missing.status_code == 404 and missing.get_json()["code"] == "NOT_FOUND"
    rzp.fail_next_create = 500
    down = b.create_order("pro-monthly")
    assert down.status_code == 503 and down.get_json()["code"] == "SERVICE_UNAVAILABLE"
    settings_override(
        razorpay_key_id=rzp.key_id,
        razorpay_key_secret="wrong-secret",
        razorpay_webhook_secret="x",
        razorpay_base_url=rzp.base_url,
    )
    refused = b.create_order("pro-monthly")  # Razorpay answers 401: our keys are wrong
    assert refused.status_code == 503 and refused.get_json()["code"] == "SERVICE_UNAVAILABLE"
    settings_override(razorpay_key_id="", razorpay_key_secret="")
    assert b.create_order("pro-monthly").status_code == 503
    assert Order.objects.count() == 0


def test_base_url_with_or_without_v1(buyer, rzp, settings_override):
    b = buyer()
    for base in (rzp.base_url, rzp.base_url[: -len("/v1")], rzp.base_url + "/"):
        settings_override(
            razorpay_key_id=rzp.key_id,
            razorpay_key_secret=rzp.key_secret,
            razorpay_base_url=base,
        )
        assert b.create_order("tokens-50k").status_code == 201


def test_user_payments_lists_only_the_callers_orders(buyer, rzp, client):
    a, other = buyer(), buyer()
    for plan_id in ("tokens-50k", "pro-monthly"):
        a.order(plan_id)
    other.order("tokens-50k")
    res = client.get("/api/user/payments?limit=1", headers=a.headers)
    data = res.get_json()["data"]
    assert res.status_code == 200 and data["total"] == 2 and len(data["payments"]) == 1
    assert data["payments"][0]["planId"] == "pro-monthly"  # newest first
    assert client.get("/api/user/payments?limit=0", headers=a.headers).status_code == 400
    assert client.get("/api/user/payments").status_code == 401


def test_flask_reconcile_is_clean(app, buyer, rzp):
    b = buyer()
    data = b.order()
    pay = rzp.pay(data["orderId"])
    b.verify("pro-monthly", data["orderId"], pay["id"])
    result = app.test_cli_runner().invoke(args=["reconcile"])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output


def test_fake_razorpay_speaks_the_orders_api(rzp):
    """The local Razorpay itself: auth, the order entity, errors in Razorpay's shape."""
    import razorpay
    import requests

    from common.payments.gateway import sdk_base_url

    url = f"{rzp.base_url}/orders"
    res = requests.post(url, json={"amount": 100, "currency": "INR"}, auth=("x", "y"), timeout=10)
    assert res.status_code == 401
    assert res.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    sdk = razorpay.Client(auth=(rzp.key_id, rzp.key_secret), base_url=sdk_base_url(rzp.base_url))
    order = sdk.order.create({"amount": 5000, "currency": "INR", "receipt": "r1", "notes": {}})
    assert order["id"].startswith("order_") and order["status"] == "created"
    assert order["amount_due"] == 5000 and order["amount_paid"] == 0
    assert sdk.order.fetch(order["id"]) == order
    pay = rzp.pay(order["id"])
    assert sdk.payment.fetch(pay["id"])["order_id"] == order["id"]
    assert sdk.order.fetch(order["id"])["status"] == "paid"
    with pytest.raises(razorpay.errors.BadRequestError, match="atleast"):
        sdk.order.create({"amount": 50, "currency": "INR"})
