"""The outbox: one document per mail, keyed by what caused it.

`key` is the mail's idempotency key (`receipt:<order id>`, `reset:<token id>`, ...): queueing the
same key again finds the mail already there, so an event handled twice mails once. Times the
sender compares (`dueAt`, `leaseUntil`) are epoch seconds: numbers compare the same on MongoDB
and on nx-27017, which stores a `$set` date as text.
"""

from __future__ import annotations

from mongoengine import DateTimeField, Document, FloatField, IntField, ObjectIdField, StringField

from common.stored import utcnow

# pending → sending → sent; sending → pending (SMTP down: tried again later) or failed (given
# up, or refused for good); pending → expired (its link expired before it could be sent).
STATUSES = ("pending", "sending", "sent", "failed", "expired")


class Mail(Document):
    key = StringField(required=True, max_length=200)
    kind = StringField(required=True, max_length=40)  # the template: reset, verify, receipt, ...
    to = StringField(required=True, max_length=254)
    subject = StringField(required=True, max_length=300)
    # The bodies are dropped once the mail is sent or expired: a reset link lives in MongoDB
    # only until it is delivered (docs/account.md).
    text = StringField()
    html = StringField()
    userId = ObjectIdField()  # noqa: N815
    status = StringField(choices=STATUSES, default="pending")
    attempts = IntField(default=0)
    dueAt = FloatField(default=0.0)  # noqa: N815  epoch seconds: not to be tried before
    leaseUntil = FloatField()  # noqa: N815  epoch seconds: a sender holds it until then
    discardAfter = FloatField()  # noqa: N815  epoch seconds: not sent after (its link expired)
    lastError = StringField()  # noqa: N815
    messageId = StringField()  # noqa: N815  the Message-ID header
    createdAt = DateTimeField(default=utcnow)  # noqa: N815
    sentAt = DateTimeField()  # noqa: N815
    updatedAt = DateTimeField(default=utcnow)  # noqa: N815

    meta = {
        "collection": "mail_outbox",
        "indexes": [
            {"fields": ["key"], "unique": True},
            {"fields": ["status", "dueAt"]},
            {"fields": ["status", "-createdAt"]},
            {"fields": ["-createdAt"]},
        ],
    }
