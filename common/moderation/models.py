"""Blocked terms that admins add at runtime (on top of `BLOCKED_TERMS` from the environment), and
the attempts they refused (in the moderation queue)."""

from __future__ import annotations

from mongoengine import DateTimeField, DictField, Document, IntField, ObjectIdField, StringField

from common.stored import utcnow


class BlockedTerm(Document):
    term = StringField(required=True, unique=True, max_length=100)  # stored lower-case
    addedBy = StringField(default="")  # noqa: N815  admin id
    createdAt = DateTimeField(default=utcnow)  # noqa: N815

    meta = {"collection": "blocked_terms", "indexes": [{"fields": ["term"], "unique": True}]}


class BlockedAttempt(Document):
    """A send refused for a blocked term: nothing reached a provider or was stored in the
    conversation, but an admin sees who tried what (a preview) and which term matched."""

    userId = ObjectIdField(required=True)  # noqa: N815
    sessionId = StringField()  # noqa: N815  the conversation it was sent to, if any
    content = StringField(default="")  # the start of the refused text
    term = StringField(required=True)  # what matched, as written
    via = StringField(choices=("chat", "api"), default="chat")
    moderation = DictField(default=dict)  # the same record as a flagged message's
    createdAt = DateTimeField(default=utcnow)  # noqa: N815
    # `<user id>:<term, lower case>`: the same user's later tries of the term while this item is
    # open count here (`attempts`, `lastAttemptAt`) instead of adding items.
    repeatKey = StringField()  # noqa: N815
    attempts = IntField(default=1)
    lastAttemptAt = DateTimeField()  # noqa: N815

    meta = {
        "collection": "blocked_attempts",
        "indexes": [
            {"fields": ["moderation.flagged"]},
            {"fields": ["userId", "-createdAt"]},
            {"fields": ["repeatKey"]},
        ],
    }
