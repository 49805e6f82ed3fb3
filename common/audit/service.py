"""Recording admin writes and listing them.

Use cases call `record()` after their write succeeded, with the state before and after, so the
log says what really changed. A replayed request that changes nothing records nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from bson import ObjectId

from common.audit.models import AuditLog
from common.stored import iso_or_text
from common.users.models import User


@dataclass(frozen=True)
class Actor:
    """The admin (or command) doing a write, and where the request came from."""

    id: str
    email: str = ""
    ip: str = ""

    @classmethod
    def of(cls, user: User, ip: str = "") -> Actor:
        return cls(str(user.id), user.email, ip or "")

    @classmethod
    def cli(cls) -> Actor:
        return cls("cli", "cli", "")


def record(
    actor: Actor,
    action: str,
    target_type: str,
    target_id: Any,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditLog:
    return AuditLog(
        adminId=actor.id,
        adminEmail=actor.email,
        action=action,
        targetType=target_type,
        targetId=str(target_id or ""),
        before=before or {},
        after=after or {},
        ip=actor.ip,
    ).save()


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to list: every filter an exact match, `day_from`..`day_to` UTC days (both
    included); newest first, `limit` a page."""

    page: int = 1
    limit: int = 50
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    admin_id: str | None = None
    day_from: date | None = None
    day_to: date | None = None
    email: str | None = None  # any case: entries by that person, or done to them as a user


def list_entries(f: AuditFilter) -> dict:
    """One page of the audit log, newest first. Each entry names the target user
    (`target.email`, `target.name`) when there is one."""
    filters = {
        "action": f.action,
        "targetType": f.target_type,
        "targetId": f.target_id,
        "adminId": f.admin_id,
    }
    query = AuditLog.objects(**{k: v for k, v in filters.items() if v})
    if f.day_from or f.day_to:
        query = query.filter(__raw__=_days(f.day_from, f.day_to))
    if f.email:
        query = query.filter(__raw__=_by_email(f.email))
    total = query.count()
    rows = list(query.order_by("-createdAt", "-id").skip((f.page - 1) * f.limit).limit(f.limit))
    people = _people({e.targetId for e in rows if e.targetType == "user"})
    return {
        "entries": [
            serialize(e, people.get(e.targetId) if e.targetType == "user" else None) for e in rows
        ],
        "pagination": pagination(f.page, f.limit, total),
    }


def _by_email(email: str) -> dict:
    """Entries by the person with this email, or done to them (as a user target)."""
    address = email.strip().lower()
    ids = [str(d["_id"]) for d in User._get_collection().find({"email": address}, {"_id": 1})]
    either: list[dict] = [{"adminEmail": address}, {"adminId": {"$in": ids}}]
    if ids:
        either.append({"targetType": "user", "targetId": {"$in": ids}})
    return {"$or": either}


def _people(user_ids: set[str]) -> dict[str, dict]:
    """{user id: {email, name}} for the ids that name users."""
    oids = [ObjectId(i) for i in user_ids if ObjectId.is_valid(i)]
    found = User._get_collection().find({"_id": {"$in": oids}}, {"email": 1, "name": 1})
    return {str(d["_id"]): {"email": d.get("email"), "name": d.get("name")} for d in found}


def _days(day_from: date | None, day_to: date | None) -> dict:
    """`createdAt` within the days, whether stored as a date or (nx-27017, README) as ISO text.

    Each bound is its own condition under `$and` (nx-27017 gets a one-condition range wrong),
    and each accepts either form: BSON compares only like types, and ISO text sorts by time.
    """
    bounds = []
    if day_from:
        start = datetime.combine(day_from, time(), UTC)
        bounds.append(("$gte", start))
    if day_to:
        end = datetime.combine(day_to + timedelta(days=1), time(), UTC)
        bounds.append(("$lt", end))
    return {
        "$and": [
            {
                "$or": [
                    {"createdAt": {op: at.replace(tzinfo=None)}},
                    {"createdAt": {op: at.date().isoformat()}},
                ]
            }
            for op, at in bounds
        ]
    }


def serialize(entry: AuditLog, person: dict | None = None) -> dict:
    target = {"type": entry.targetType, "id": entry.targetId}
    if person:
        target.update(email=person.get("email"), name=person.get("name"))
    return {
        "id": str(entry.id),
        "admin": {"id": entry.adminId, "email": entry.adminEmail},
        "action": entry.action,
        "target": target,
        "before": entry.before,
        "after": entry.after,
        "ip": entry.ip,
        "createdAt": iso_or_text(entry.createdAt),
    }


def pagination(page: int, limit: int, total: int) -> dict:
    return {"page": page, "limit": limit, "total": total, "pages": (total + limit - 1) // limit}
