"""The API key document. The secret itself is never stored, only its SHA-256 (see `secrets`)."""

from __future__ import annotations

from mongoengine import DateTimeField, Document, IntField, ListField, ObjectIdField, StringField

from common.stored import utcnow


class ApiKey(Document):
    userId = ObjectIdField(required=True)  # noqa: N815
    name = StringField(required=True, max_length=100)
    prefix = StringField(required=True)  # the secret's first characters, shown in lists
    secretHash = StringField(required=True, unique=True)  # noqa: N815  sha256 hex of the secret
    models = ListField(StringField(), default=list)  # allow-list; empty = every model
    dailyTokenCap = IntField()  # noqa: N815  wallet tokens per UTC day; None = no cap
    monthlyTokenCap = IntField()  # noqa: N815  wallet tokens per UTC month; None = no cap
    expiresAt = DateTimeField()  # noqa: N815
    createdAt = DateTimeField(default=utcnow)  # noqa: N815
    lastUsedAt = DateTimeField()  # noqa: N815
    revokedAt = DateTimeField()  # noqa: N815
    revokedBy = StringField()  # noqa: N815  user id of whoever revoked it (owner or admin)
    spentTokens = IntField(default=0)  # noqa: N815  wallet tokens charged through this key
    requests = IntField(default=0)  # answers charged through this key

    meta = {
        "collection": "api_keys",
        "indexes": [
            {"fields": ["secretHash"], "unique": True},
            {"fields": ["userId"]},
        ],
    }
