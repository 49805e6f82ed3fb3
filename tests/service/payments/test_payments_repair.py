"""Crashes between the steps of a purchase, the repair job, and subscription expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from common.payments import service, subscriptions
from common.payments.models import Order
from common.users.models import PLAN_LIMITS, User
from common.wallet.reconcile import reconcile
from worker.tasks import payments as payment_tasks


def _paid_but_not_applied(b, rzp, plan_id="pro-monthly") -> tuple[Order, dict]:
    """An order claimed for its payment by a process that then died (steps 2-4 never ran)."""
    data = b.order(plan_id)
    pay = rzp.pay(data["orderId"])
    order = Order.objects.get(razorpayOrderId=data["orderId"])
    doc = service._claim(order.id, pay["id"])
    assert doc["status"] == "paid" and doc["razorpayPaymentId"] == pay["id"]
    return order, pay


def test_repair_job_finishes_a_paid_order_once(buyer, rzp):
    b = buyer()
    order, _ = _paid_but_not_applied(b, rzp)
    assert b.doc().tokens.purchasedTokens == 0
    assert service.finish_stuck_orders(older_than_seconds=60) == 0  # too recent to touch
    assert payment_tasks.finish_stuck_orders.run() == 0
    assert service.finish_stuck_orders(older_than_seconds=0) == 1
    user = b.doc()
    assert user.tokens.purchasedTokens == 500_000 and user.subscription.plan == "pro"
    expires = user.subscription.expiresAt
    assert service.finish_stuck_orders(older_than_seconds=0) == 0  # fulfilled: nothing left
    order.reload()
    assert order.tokensCredited and order.subscriptionApplied and order.fulfilledAt
    assert b.doc().subscription.expiresAt == expires
    assert reconcile() == []


def test_crash_after_the_subscription_before_the_order_flag(buyer, rzp):
    """The user got the subscription but the order never recorded it: no second month."""
    b = buyer()
    order, pay = _paid_but_not_applied(b, rzp)
    expires, applied = subscriptions.apply_purchase(b.user["id"], str(order.id), "pro", 30, {})
    assert applied
    # The webhook retry (or verify) finishes the order: credit once, subscription not again.
    assert b.verify("pro-monthly", order.razorpayOrderId, pay["id"]).status_code == 200
    user = b.doc()
    assert user.subscription.expiresAt == expires
    assert user.subscription.orders == [str(order.id)]
    assert user.tokens.purchasedTokens == 500_000
    assert reconcile() == []


def test_concurrent_purchases_both_extend(buyer, rzp):
    """Two orders applied from racing threads: the optimistic update keeps both months."""
    import threading

    b = buyer()
    orders = [_paid_but_not_applied(b, rzp)[0] for _ in range(4)]
    barrier = threading.Barrier(len(orders))

    def finish(order):
        barrier.wait()
        service.fulfil(Order._get_collection().find_one({"_id": order.id}))

    threads = [threading.Thread(target=finish, args=(o,)) for o in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    user = b.doc()
    expires = user.subscription.expiresAt.replace(tzinfo=UTC)
    assert abs(expires - (datetime.now(UTC) + timedelta(days=120))) < timedelta(minutes=5)
    assert user.tokens.purchasedTokens == 4 * 500_000
    assert sorted(user.subscription.orders) == sorted(str(o.id) for o in orders)
    assert reconcile() == []


def test_expired_subscriptions_go_back_to_free(buyer, rzp):
    lapsed, current, lifetime = buyer(), buyer(), buyer()
    now = datetime.now(UTC)
    users = User._get_collection()
    for b, expires in ((lapsed, now - timedelta(minutes=1)), (current, now + timedelta(days=3))):
        sub = {"plan": "pro", "expiresAt": expires, "limits": PLAN_LIMITS["pro"], "rev": 1}
        users.update_one({"_id": b.doc().id}, {"$set": {"subscription": sub}})
    sub = {"plan": "enterprise", "limits": PLAN_LIMITS["enterprise"]}  # no expiry: an admin's
    users.update_one({"_id": lifetime.doc().id}, {"$set": {"subscription": sub}})

    assert payment_tasks.expire_subscriptions.run() == 1
    gone = lapsed.doc().subscription
    assert gone.plan == "free" and gone.expiresAt is None
    assert gone.limits.requestsPerDay == PLAN_LIMITS["free"]["requestsPerDay"]
    assert current.doc().subscription.plan == "pro"
    assert lifetime.doc().subscription.plan == "enterprise"
    assert subscriptions.expire_due() == 0

    # Buying again after expiry starts from now.
    data = lapsed.order("pro-monthly")
    pay = rzp.pay(data["orderId"])
    user = lapsed.verify("pro-monthly", data["orderId"], pay["id"]).get_json()["data"]["user"]
    assert user["subscription"]["plan"] == "pro"
