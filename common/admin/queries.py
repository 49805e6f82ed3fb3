"""Query shapes that mean the same on MongoDB and on nx-27017 (the embedded dev/test server).

nx-27017 0.8.1 deviations met here (measured), and the equivalent form used instead:

- Equality on an ObjectId field other than `_id` (`{"userId": oid}`) matches nothing, in `find`
  and in `$match`; `{"userId": {"$in": [oid]}}` matches in `find` (not in `count_documents` or
  `$match`). So lookups by user use `$in` with `find` and never count.
- In `$match`, a date range written as one operator object (`{"$gte": a, "$lt": b}`, or `$lt`
  alone) matches nothing or everything; the same range written as `$and` of two conditions is
  right. `find` is right either way.
- `$group` by an ObjectId path returns `_id` as a JSON string
  (`{"__neosqlite_objectid__":true,"id":"…"}`); `object_id()` reads both forms.
- `$set` of a datetime at a field path (`{"$set": {"updatedAt": now}}`, also
  `"moderation.flaggedAt"`) stores a string; a datetime inside a subdocument value
  (`{"$set": {"moderation": {...}}}`) stays a date, and `$currentDate` stores a date. So writes
  here set whole subdocuments or use `touch()`, and `iso()` reads either form.
- A compound `_id` of expressions, `%G`/`%V` in `$dateToString`, `$isoWeek` and
  `$dateToString` of a computed date are not evaluated; `$avg` counts a missing field as 0.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId


def in_range(field: str, start: datetime, end: datetime) -> dict:
    """`start <= field < end`, written as `$and` so nx-27017's `$match` gets it right."""
    return {"$and": [{field: {"$gte": start}}, {field: {"$lt": end}}]}


def same_id(value: Any) -> dict:
    """Equality on an ObjectId field, as `$in` (see the module docstring)."""
    return {"$in": [value if isinstance(value, ObjectId) else ObjectId(str(value))]}


def object_id(value: Any) -> ObjectId | None:
    """An ObjectId from a `$group` key, whichever form the server returned it in."""
    if isinstance(value, ObjectId):
        return value
    if isinstance(value, str):
        if value.startswith("{"):
            try:
                value = json.loads(value).get("id", "")
            except ValueError:
                return None
        try:
            return ObjectId(value)
        except (InvalidId, TypeError):
            return None
    return None


def parse_object_id(value: Any) -> ObjectId | None:
    """A path parameter as an ObjectId, or None when it is not one."""
    try:
        return ObjectId(str(value))
    except (InvalidId, TypeError):
        return None


def touch(*fields: str) -> dict:
    """`$currentDate` for `fields` (default `updatedAt`): a real date on every server."""
    return {"$currentDate": {f: True for f in fields or ("updatedAt",)}}


def as_datetime(value: Any) -> datetime | None:
    """A stored date, whichever form it is in (see `iso`), timezone-aware UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def iso(value: Any) -> str | None:
    """ISO text of a stored date; a date that nx-27017 stored as text is passed through."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return str(value) if value else None
