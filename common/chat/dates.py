"""Reading stored dates back.

nx-27017 (measured, 0.8.1) stores a datetime written through an update's `$set` as the text
`YYYY-MM-DD HH:MM:SS.ffffff` (UTC, no zone), while inserts keep real dates. Readers accept both.
"""

from __future__ import annotations

from datetime import UTC, datetime


def as_aware(value) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace(" ", "T"))
        except ValueError:
            return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def iso(value) -> str | None:
    dt = as_aware(value)
    return dt.isoformat() if dt else None


def sort_key(value) -> float:
    dt = as_aware(value)
    return dt.timestamp() if dt else 0.0
