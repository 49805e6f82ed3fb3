"""Flags on messages, sessions and blocked attempts: the moderation record, the flagged list.

A flag comes from a user's report, an admin, or a provider's moderation refusal (the engine
calls `flag_from_provider` after it ends such an answer). Admins see open flags in one list,
then dismiss, hide or remove the content: those actions, audited, and bans are the admin's
(`common.admin.moderation`), written through `apply` here. Removing keeps the record (usage,
cost and the ledger stay intact) and blanks the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.client_session import ClientSession
from pymongo.collection import Collection

from common.audit import service as audit
from common.conversations.models import ChatMessage, ChatSession
from common.errors import NotFound, ValidationError
from common.moderation.models import BlockedAttempt
from common.stored import as_utc, iso, iso_or_text, object_id, object_id_or_none, touch, utcnow
from common.users.models import User

MAX_REASON = 500
PREVIEW_CHARS = 300
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
KINDS = ("message", "session", "attempt")


def _messages() -> Collection:
    return ChatMessage._get_collection()


def _sessions() -> Collection:
    return ChatSession._get_collection()


def _collection(kind: str) -> Collection:
    if kind == "attempt":
        return BlockedAttempt._get_collection()
    return _messages() if kind == "message" else _sessions()


def _find(kind: str, item_id: str) -> dict:
    """A message or a blocked attempt by its ObjectId, or a session by its public `sessionId`."""
    if kind != "session":
        oid = object_id_or_none(item_id)
        doc = _collection(kind).find_one({"_id": oid}) if oid else None
    else:
        doc = _sessions().find_one({"sessionId": str(item_id)})
    if doc is None:
        raise NotFound(f"{kind.capitalize()} not found.")
    return doc


def _public_id(kind: str, doc: dict) -> str:
    return doc["sessionId"] if kind == "session" else str(doc["_id"])


def _set(
    kind: str,
    doc: dict,
    changes: dict,
    condition: dict | None = None,
    session: ClientSession | None = None,
    **fields,
) -> dict | None:
    """Apply `changes` to the item's moderation subdocument (and `fields` at the top level).

    The whole subdocument is written, built from the one read: dates inside it stay dates on
    nx-27017 (see `common.stored`). `condition` narrows the update; None means it
    did not match.
    """
    moderation = {**(doc.get("moderation") or {}), **changes}
    return _collection(kind).find_one_and_update(
        {"_id": doc["_id"], **(condition or {})},
        {"$set": {"moderation": moderation, **fields}, **touch()},
        return_document=ReturnDocument.AFTER,
        session=session,
    )


def moderation_view(doc: dict) -> dict:
    m = doc.get("moderation") or {}
    return {
        "flagged": bool(m.get("flagged")),
        "source": m.get("source"),
        "reason": m.get("reason"),
        "flaggedBy": str(m["flaggedBy"]) if m.get("flaggedBy") else None,
        "flaggedAt": iso_or_text(m.get("flaggedAt")),
        "hidden": bool(m.get("hidden")),
        "removed": bool(m.get("removed")),
        "reviewedBy": str(m["reviewedBy"]) if m.get("reviewedBy") else None,
        "reviewedAt": iso_or_text(m.get("reviewedAt")),
    }


def item_view(kind: str, doc: dict) -> dict:
    base = {
        "type": kind,
        "id": _public_id(kind, doc),
        "userId": str(doc.get("userId")),
        "moderation": moderation_view(doc),
        "createdAt": iso_or_text(doc.get("createdAt")),
    }
    if kind == "message":
        base.update(
            sessionId=doc.get("sessionId"),
            role=doc.get("role"),
            modelId=doc.get("modelId"),
            status=doc.get("status"),
            content=(doc.get("content") or "")[:PREVIEW_CHARS],
            error=doc.get("error") or None,
        )
    elif kind == "attempt":
        base.update(
            sessionId=doc.get("sessionId"),
            content=(doc.get("content") or "")[:PREVIEW_CHARS],
            term=doc.get("term"),
            via=doc.get("via"),
            attempts=int(doc.get("attempts") or 1),
            lastAttemptAt=iso(doc.get("lastAttemptAt") or doc.get("createdAt")),
        )
    else:
        base.update(title=doc.get("title"), messageCount=doc.get("messageCount", 0))
    return base


CONTEXT_MAX = 20


def message_context(message_id: str, around: int) -> dict:
    """A message with up to `around` messages before and after it in its session, in order.

    Sorted here rather than by the server: `createdAt` may be a date or (nx-27017) text.
    """
    doc = _find("message", message_id)
    rows = list(_messages().find({"sessionId": doc.get("sessionId")}))
    rows.sort(key=lambda d: (as_utc(d.get("createdAt")) or _EPOCH, d["_id"]))
    at = next(i for i, d in enumerate(rows) if d["_id"] == doc["_id"])
    session = _sessions().find_one({"sessionId": doc.get("sessionId")}) or {}
    return {
        "message": item_view("message", doc),
        "session": {
            "id": doc.get("sessionId"),
            "title": session.get("title"),
            "messageCount": len(rows),
        },
        "before": [_context_view(d) for d in rows[max(0, at - around) : at]],
        "after": [_context_view(d) for d in rows[at + 1 : at + 1 + around]],
    }


def _context_view(doc: dict) -> dict:
    view = item_view("message", doc)
    view["content"] = doc.get("content") or ""
    return view


def checked_reason(reason: str | None) -> str:
    """A flag's or ban's reason, trimmed; at most `MAX_REASON` characters."""
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise ValidationError(
            f"reason must be at most {MAX_REASON} characters", {"field": "reason"}
        )
    return reason


def _flag_fields(source: str, reason: str, by: ObjectId | None) -> dict:
    fields = {"flagged": True, "source": source, "reason": reason, "flaggedAt": utcnow()}
    if by is not None:
        fields["flaggedBy"] = by
    return fields


# -- flags -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    item: dict
    already_flagged: bool


def report_message(user: User, message_id: str, reason: str | None) -> Report:
    """A user reports a message in one of their own chats. Reporting again changes nothing."""
    oid = object_id_or_none(message_id)
    doc = _messages().find_one({"_id": oid}) if oid else None
    if doc is None or str(doc.get("userId")) != str(user.id):
        raise NotFound("Message not found.")
    flagged = _set(
        "message",
        doc,
        _flag_fields("user", checked_reason(reason) or "reported by user", user.id),
        {"moderation.flagged": {"$ne": True}},
    )
    return Report(item_view("message", flagged or _find("message", message_id)), flagged is None)


def find(kind: str, item_id: str) -> dict:
    """A flaggable item as stored: a message by its id, a session by its `sessionId`."""
    return _find(kind, item_id)


def apply(kind: str, doc: dict, changes: dict, **fields) -> dict:
    """Write `changes` into the item's moderation record (and `fields` at its top level);
    returns the item after. The admin's actions (`common.admin.moderation`) go through here."""
    return _set(kind, doc, changes, **fields)


def flag_fields(source: str, reason: str, by: ObjectId | None) -> dict:
    """A new flag's fields (`reason` already checked by `checked_reason`)."""
    return _flag_fields(source, reason, by)


def remove_session_contents(session_id: str) -> int:
    """Blank every message of a session and mark it removed; returns how many changed."""
    removed = _messages().update_many(
        {"sessionId": session_id},
        {"$set": {"content": "", "moderation.hidden": True, "moderation.removed": True}},
    )
    return removed.modified_count


def public_id(kind: str, doc: dict) -> str:
    return _public_id(kind, doc)


def record_blocked_attempt(
    user_id: Any, session_id: str | None, text: str, term: str, via: str = "chat"
) -> None:
    """A send was refused for `term`: put the attempt in the moderation queue (flagged, source
    `blocked_term`, the term as the reason) with the start of the text.

    A user who tries the same term again while their first attempt is still open adds to that
    item (`attempts`, `lastAttemptAt`: the text shown stays the first) instead of filling the
    queue with copies; once an admin acted on it, the next attempt opens a new item."""
    now = utcnow()
    attempts = BlockedAttempt._get_collection()
    # Text, not the ObjectId: nx-27017 matches no ObjectId field but `_id` by equality.
    repeat_key = f"{user_id}:{' '.join(term.lower().split())}"
    again = attempts.find_one_and_update(
        {"repeatKey": repeat_key, "moderation.flagged": True},
        {"$inc": {"attempts": 1}, "$set": {"lastAttemptAt": now}},
    )
    if again is not None:
        return
    attempts.insert_one(
        {
            "userId": object_id(user_id),
            "repeatKey": repeat_key,
            "attempts": 1,
            "lastAttemptAt": now,
            "sessionId": session_id,
            "content": text[:PREVIEW_CHARS],
            "term": term,
            "via": via,
            "moderation": {
                "flagged": True,
                "source": "blocked_term",
                "reason": f"matched the blocked term “{term}”",
                "flaggedAt": now,
            },
            "createdAt": now,
        }
    )


def flag_from_provider(message_id: Any, reason: str, session: ClientSession | None = None) -> None:
    """Record a provider's moderation refusal on the message so it shows in the flagged list.

    The engine calls it after it settled such an answer (`common.engine.aftermath`);
    idempotent (a retry overwrites the same fields).
    """
    oid = object_id(message_id)
    doc = _messages().find_one({"_id": oid}, {"moderation": 1}, session=session)
    if doc is not None:
        reason = (reason or "refused by provider")[:MAX_REASON]
        _set("message", doc, _flag_fields("provider", reason, None), session=session)


# -- listing -----------------------------------------------------------------------------------


STATUSES = ("open", "reviewed", "all")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def list_flagged(kind: str | None, status: str, source: str | None, page: int, limit: int) -> dict:
    """Flagged items, newest flag first. `open`: still flagged; `reviewed`: acted on."""
    query = _status_query(status)
    if source:
        query["moderation.source"] = source
    kinds = [kind] if kind else list(KINDS)
    found = []
    for k in kinds:
        # Fetch enough of each kind to fill the requested page after merging.
        cursor = _collection(k).find(query).sort("moderation.flaggedAt", -1)
        found += [(k, d) for d in cursor.limit(page * limit)]
    found.sort(key=lambda kd: _flag_time(kd[1]), reverse=True)
    total = sum(_collection(k).count_documents(query) for k in kinds)
    rows = found[(page - 1) * limit : page * limit]
    emails = _emails_of([d.get("userId") for _, d in rows])
    items = []
    for k, d in rows:
        item = item_view(k, d)
        item["userEmail"] = emails.get(str(d.get("userId")))
        items.append(item)
    return {"items": items, "pagination": audit.pagination(page, limit, total)}


def _emails_of(user_ids: list) -> dict[str, str]:
    """The email of each user among `user_ids` (one read for a page of the queue)."""
    ids = list({i for i in user_ids if i is not None})
    if not ids:
        return {}
    found = User._get_collection().find({"_id": {"$in": ids}}, {"email": 1})
    return {str(u["_id"]): u.get("email") for u in found}


def _status_query(status: str) -> dict:
    if status == "open":
        return {"moderation.flagged": True}
    if status == "reviewed":
        return {"moderation.reviewedAt": {"$exists": True, "$ne": None}}
    return {
        "$or": [
            {"moderation.flagged": True},
            {"moderation.flaggedAt": {"$exists": True, "$ne": None}},
        ]
    }


def _flag_time(doc: dict) -> datetime:
    m = doc.get("moderation") or {}
    return as_utc(m.get("flaggedAt") or m.get("reviewedAt")) or _EPOCH
