"""The database's quirks in one place: stored dates, their API text, ObjectIds and query shapes.

The product runs on MongoDB; development and tests run on nx-27017 (the embedded server). Both
return a stored date through pymongo's codec: naive UTC unless the client is `tz_aware` (ours
is, see `common.db.connect`), then UTC-aware. Where nx-27017 0.8.1 differs (measured), the forms
here are right on both:

- `$set` of a datetime at a field path (`{"$set": {"updatedAt": now}}`, also dotted
  `"moderation.flaggedAt"`) stores the text `YYYY-MM-DD HH:MM:SS.ffffff` (UTC, no zone, whole
  milliseconds) and reads it back as that text; a datetime inside a whole sub-document value
  stays a date, and `$currentDate` stores a date. So writers set whole sub-documents or use
  `touch()`, and readers go through `as_utc`, which accepts all three forms.
- Equality on an ObjectId field other than `_id` (`{"userId": oid}`) matches nothing, in `find`
  and in `$match`; `{"userId": {"$in": [oid]}}` matches in `find` (not in `count_documents` or
  `$match`). So lookups by owner use `same_id()` with `find` and never count.
- In `$match`, a date range written as one operator object (`{"$gte": a, "$lt": b}`, or `$lt`
  alone) matches nothing or everything; `in_range()` writes it as `$and` of two conditions,
  which is right. `find` is right either way.
- `$group` by an ObjectId path returns `_id` as a JSON string
  (`{"__neosqlite_objectid__":true,"id":"…"}`); `grouped_id()` reads both forms.
- A compound `_id` of expressions, `%G`/`%V` in `$dateToString`, `$isoWeek` and
  `$dateToString` of a computed date are not evaluated; `$avg` counts a missing field as 0.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId

# -- dates --------------------------------------------------------------------------------------


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: Any) -> datetime | None:
    """A stored date as an aware datetime (naive ones are UTC); None when it is not a date."""
    if isinstance(value, str):
        value = _parse(value)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def _parse(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def sort_key(value: Any) -> float:
    """A stored date as a number to sort by; a missing one sorts before every date."""
    dt = as_utc(value)
    return dt.timestamp() if dt else 0.0


def iso(value: Any) -> str | None:
    """A stored date in the API's form (`2026-11-26T03:41:50.770000+00:00`), whichever form it
    was stored in; None when there is none."""
    dt = as_utc(value)
    return dt.isoformat() if dt else None


def iso_or_text(value: Any) -> str | None:
    """A stored date in the API's form, but nx-27017's text passed through as stored.

    The admin, moderation and payments answers have always shown that text unchanged
    (`2026-11-26 03:41:50.770000`) where `iso` turns it into the API form; kept apart so those
    answers stay as they were.
    """
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    return str(value) if value else None


def touch(*fields: str) -> dict:
    """`$currentDate` for `fields` (default `updatedAt`): a real date on every server."""
    return {"$currentDate": {f: True for f in fields or ("updatedAt",)}}


def in_range(field: str, start: datetime, end: datetime) -> dict:
    """`start <= field < end`, written as `$and` so nx-27017's `$match` gets it right."""
    return {"$and": [{field: {"$gte": start}}, {field: {"$lt": end}}]}


# -- ObjectIds ----------------------------------------------------------------------------------


def object_id(value: Any) -> ObjectId:
    """An ObjectId from an id in any form; raises `bson.errors.InvalidId` when it is not one."""
    return value if isinstance(value, ObjectId) else ObjectId(str(value))


def object_id_or_none(value: Any) -> ObjectId | None:
    """An ObjectId from an id in any form (a path parameter, a body field), or None."""
    try:
        return object_id(value)
    except InvalidId:
        return None


def same_id(value: Any) -> dict:
    """Equality on an ObjectId field other than `_id`, written as `$in` (see above)."""
    return {"$in": [object_id(value)]}


def grouped_id(value: Any) -> ObjectId | None:
    """An ObjectId from a `$group` key, whichever form the server returned it in."""
    if isinstance(value, ObjectId):
        return value
    if not isinstance(value, str):
        return None
    if value.startswith("{"):
        try:
            value = json.loads(value).get("id", "")
        except ValueError:
            return None
    return object_id_or_none(value)
