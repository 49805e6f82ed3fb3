"""Plans people can buy, the orders they place through Razorpay, and the payment event log.

An order is also the unit of exactly-once: its status moves `created` (→ `attempted`) → `paid`
by one conditional update that stores the Razorpay payment id, and the payment id keys the
wallet credit. `tokensCredited`, `subscriptionApplied` and `fulfilledAt` record which of the
purchase's effects have landed, so a retry (or the repair job) finishes exactly what is missing.
"""

from __future__ import annotations

from mongoengine import (
    BooleanField,
    DateTimeField,
    DictField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    IntField,
    ObjectIdField,
    StringField,
)

from common.stored import utcnow
from common.users.models import PLANS

ORDER_STATUSES = ("created", "attempted", "paid", "failed", "refunded", "partially_refunded")
# Statuses from which a captured payment may still claim the order.
CLAIMABLE = ("created", "attempted", "failed")
# Statuses of an order whose payment was captured (its purchase must be applied).
CAPTURED = ("paid", "refunded", "partially_refunded")


class PlanLimits(EmbeddedDocument):
    requestsPerDay = IntField(min_value=0)  # noqa: N815
    tokensPerMonth = IntField(min_value=0)  # noqa: N815


class Plan(Document):
    """Something to buy: a token pack (`durationDays` 0) or a subscription plan."""

    id = StringField(primary_key=True, regex=r"^[a-z0-9][a-z0-9-]{1,62}$")
    name = StringField(required=True, max_length=100)
    description = StringField(default="", max_length=1000)
    price = IntField(required=True, min_value=100)  # paise; Razorpay's minimum is ₹1
    currency = StringField(default="INR", regex=r"^[A-Z]{3}$")
    tokens = IntField(default=0, min_value=0)  # purchased tokens credited
    plan = StringField(choices=PLANS, default="free")  # subscription conferred
    durationDays = IntField(default=0, min_value=0)  # noqa: N815  0: no subscription change
    limits = EmbeddedDocumentField(PlanLimits)  # None: the plan's defaults (PLAN_LIMITS)
    unlocksPaidModels = BooleanField(default=False)  # noqa: N815
    isActive = BooleanField(default=True)  # noqa: N815
    sortOrder = IntField(default=0)  # noqa: N815
    createdAt = DateTimeField(default=utcnow)  # noqa: N815
    updatedAt = DateTimeField(default=utcnow)  # noqa: N815

    meta = {"collection": "plans", "indexes": [{"fields": ["isActive", "sortOrder"]}]}


class Order(Document):
    """One Razorpay order for one plan, and what became of its payment."""

    userId = ObjectIdField(required=True)  # noqa: N815
    planId = StringField(required=True)  # noqa: N815
    plan = StringField(choices=PLANS, required=True)  # subscription conferred
    tokens = IntField(required=True, min_value=0)
    amount = IntField(required=True, min_value=1)  # paise
    currency = StringField(required=True)
    # What the purchase confers, copied from the plan when ordered (plans may change later).
    durationDays = IntField(default=0)  # noqa: N815
    limits = DictField(default=dict)  # {requestsPerDay, tokensPerMonth}
    unlocksPaidModels = BooleanField(default=False)  # noqa: N815
    status = StringField(choices=ORDER_STATUSES, default="created")
    razorpayOrderId = StringField(required=True)  # noqa: N815
    razorpayPaymentId = StringField()  # noqa: N815  set once, by the claim that marks it paid
    receipt = StringField(required=True)
    paidAt = DateTimeField()  # noqa: N815
    # Which effects of the purchase have landed (see the module docstring).
    tokensCredited = BooleanField(default=False)  # noqa: N815
    subscriptionApplied = BooleanField(default=False)  # noqa: N815
    fulfilledAt = DateTimeField()  # noqa: N815
    # Refunds applied, keyed by Razorpay refund id: {amount, tokens, at}.
    refunds = DictField(default=dict)
    refundedAmount = IntField(default=0)  # noqa: N815  paise
    refundedTokens = IntField(default=0)  # noqa: N815
    failedPaymentId = StringField()  # noqa: N815  the last failed attempt, for support
    failureReason = StringField()  # noqa: N815
    createdAt = DateTimeField(default=utcnow)  # noqa: N815
    updatedAt = DateTimeField(default=utcnow)  # noqa: N815

    meta = {
        "collection": "orders",
        "indexes": [
            {"fields": ["razorpayOrderId"], "unique": True},
            {"fields": ["razorpayPaymentId"], "unique": True, "sparse": True},
            {"fields": ["receipt"], "unique": True},
            {"fields": ["userId", "-createdAt"]},
            {"fields": ["status", "paidAt"]},
            {"fields": ["status", "fulfilledAt"]},
        ],
    }


class PaymentEvent(Document):
    """The log of what we did with each webhook delivery and each rejected verification."""

    source = StringField(choices=("webhook", "verify", "repair"), required=True)
    eventId = StringField()  # noqa: N815  x-razorpay-event-id
    event = StringField()  # payment.captured, order.paid, ...
    # applied (once per payment: the delivery or verify that completed it), duplicate (every
    # other one for the same payment), refunded, attempted, failed, ignored, rejected, conflict
    outcome = StringField(required=True)
    reason = StringField(default="")
    userId = ObjectIdField()  # noqa: N815
    razorpayOrderId = StringField()  # noqa: N815
    razorpayPaymentId = StringField()  # noqa: N815
    refundId = StringField()  # noqa: N815
    amount = IntField()
    currency = StringField()
    createdAt = DateTimeField(default=utcnow)  # noqa: N815

    meta = {
        "collection": "payment_events",
        "indexes": [
            {"fields": ["-createdAt"]},
            {"fields": ["razorpayOrderId", "-createdAt"]},
            {"fields": ["outcome", "-createdAt"]},
        ],
    }
