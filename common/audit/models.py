"""The audit log: one record per admin write."""

from __future__ import annotations

from mongoengine import DateTimeField, DictField, Document, StringField

from common.stored import utcnow


class AuditLog(Document):
    """Who changed what. Ids are stored as strings: targets are users, messages, sessions and
    blocked terms alike, and string equality filters work on every server (see
    `common.stored`)."""

    adminId = StringField(required=True)  # noqa: N815  user id, or "cli" for commands
    adminEmail = StringField(default="")  # noqa: N815
    action = StringField(required=True)
    targetType = StringField(required=True)  # noqa: N815  user | message | session | term
    targetId = StringField(default="")  # noqa: N815
    before = DictField(default=dict)
    after = DictField(default=dict)
    ip = StringField(default="")
    createdAt = DateTimeField(default=utcnow)  # noqa: N815

    meta = {
        "collection": "audit_logs",
        "indexes": [
            {"fields": ["-createdAt"]},
            {"fields": ["action", "-createdAt"]},
            {"fields": ["targetType", "targetId", "-createdAt"]},
            {"fields": ["adminId", "-createdAt"]},
        ],
    }
