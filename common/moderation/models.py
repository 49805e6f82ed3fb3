"""Blocked terms that admins add at runtime (on top of `BLOCKED_TERMS` from the environment)."""

from __future__ import annotations

from mongoengine import DateTimeField, Document, StringField

from common.stored import utcnow


class BlockedTerm(Document):
    term = StringField(required=True, unique=True, max_length=100)  # stored lower-case
    addedBy = StringField(default="")  # noqa: N815  admin id
    createdAt = DateTimeField(default=utcnow)  # noqa: N815

    meta = {"collection": "blocked_terms", "indexes": [{"fields": ["term"], "unique": True}]}
