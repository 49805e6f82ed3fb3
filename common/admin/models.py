"""Stored analytics days (see rollups)."""

from __future__ import annotations

from mongoengine import DateTimeField, DictField, Document, StringField

from common.stored import utcnow


class AnalyticsDay(Document):
    """One UTC day's usage figures, stored once the day can no longer change (see rollups)."""

    day = StringField(required=True, unique=True)  # "YYYY-MM-DD"
    figures = DictField(default=dict)
    computedAt = DateTimeField(default=utcnow)  # noqa: N815

    meta = {"collection": "analytics_days", "indexes": [{"fields": ["day"], "unique": True}]}
