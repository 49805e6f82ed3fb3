"""The wallet ledger: one entry per movement of tokens, unique by idempotency key."""

from __future__ import annotations

from mongoengine import (
    BooleanField,
    DateTimeField,
    DictField,
    Document,
    IntField,
    ObjectIdField,
    StringField,
)

from common.stored import utcnow

# grant: free tokens given; credit: purchased/admin tokens in; charge: a settled hold (chat);
# debit: tokens taken back (refund, admin deduction); release: a hold closed with nothing charged.
KINDS = ("grant", "credit", "charge", "debit", "release", "reset")


class LedgerEntry(Document):
    key = StringField(required=True, unique=True)
    user = ObjectIdField(required=True)
    kind = StringField(required=True, choices=KINDS)
    amount = IntField(required=True)  # signed: + enters the wallet, - leaves it
    free = IntField(default=0)  # signed share of `amount` in the free pool
    purchased = IntField(default=0)  # signed share in the purchased pool
    source = StringField(default="")
    details = DictField(default=dict)
    applied = BooleanField(default=False)
    hold = StringField()  # for hold closings: the id of the hold this entry closes
    marker = BooleanField(default=False)  # a credit whose `applying.<key>` marker is still set
    createdAt = DateTimeField(default=utcnow)  # noqa: N815

    meta = {
        "collection": "ledger",
        "indexes": [
            {"fields": ["key"], "unique": True},
            {"fields": ["user", "-createdAt"]},
            {"fields": ["applied", "createdAt"]},
            {"fields": ["marker", "applied", "createdAt"]},
            {"fields": ["kind", "createdAt"]},
        ],
    }
