"""Chat sessions: create, list, read with messages, rename, delete; titles and stats.

Every lookup is scoped to its owner, so another user's session is simply not found (404).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from bson import ObjectId

from common.conversations.models import ChatMessage, ChatSession
from common.errors import NotFound, ValidationError
from common.stored import object_id, object_id_or_none, sort_key, utcnow

DEFAULT_TITLE = "New chat"
TITLE_CHARS = 60


@dataclass(frozen=True)
class Page:
    items: list[Any]
    page: int
    limit: int
    total: int

    @property
    def pagination(self) -> dict[str, int]:
        pages = (self.total + self.limit - 1) // self.limit if self.limit else 0
        return {"page": self.page, "limit": self.limit, "total": self.total, "totalPages": pages}


def _owner(user_id: Any) -> list[ObjectId]:
    """Match on the owner as `$in: [id]`: nx-27017 misses plain equality on a non-`_id`
    ObjectId field (measured), and `$in` means the same on MongoDB."""
    return [object_id(user_id)]


def new_session_id() -> str:
    return f"chat_{int(time.time() * 1000)}_{secrets.token_hex(4)}"


def title_from(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


def create_session(
    user_id: Any, title: str | None = None, model_id: str | None = None
) -> ChatSession:
    session = ChatSession(
        sessionId=new_session_id(),
        userId=object_id(user_id),
        title=(title or DEFAULT_TITLE)[:200],
        models=[model_id] if model_id else [],
    )
    session.save()
    return session


def get_session(user_id: Any, session_id: str) -> ChatSession:
    session = ChatSession.objects(sessionId=str(session_id), userId__in=_owner(user_id)).first()
    if session is None:
        raise NotFound("Chat session not found.")
    return session


def list_sessions(user_id: Any, page: int = 1, limit: int = 20) -> Page:
    """Pinned first, then most recent first. Sorted here rather than by the server: nx-27017
    stores `$set` dates as text, which would sort apart from inserted ones (and its count misses
    ObjectId filters)."""
    rows = list(
        ChatSession.objects(userId__in=_owner(user_id)).only("id", "lastMessageAt", "pinned")
    )
    rows.sort(key=lambda s: (bool(s.pinned), sort_key(s.lastMessageAt)), reverse=True)
    ids = [s.id for s in rows[(page - 1) * limit : page * limit]]
    by_id = {s.id: s for s in ChatSession.objects(id__in=ids)}
    return Page([by_id[i] for i in ids if i in by_id], page, limit, len(rows))


def recent_documents(user_id: Any, limit: int) -> list[dict]:
    """A user's sessions as stored (moderation included), most recently active first: what an
    admin inspecting the account sees."""
    cursor = ChatSession._get_collection().find({"userId": {"$in": _owner(user_id)}})
    return list(cursor.sort("lastMessageAt", -1).limit(limit))


def session_messages(session: ChatSession, page: int = 1, limit: int = 50) -> Page:
    """Oldest first, so page 1 starts the conversation."""
    query = ChatMessage.objects(sessionId=session.sessionId)
    items = list(query.order_by("createdAt", "id").skip((page - 1) * limit).limit(limit))
    return Page(items, page, limit, query.count())


def page_of(items: list[Any], page: int, limit: int) -> Page:
    """One page of a list already read (a branch)."""
    return Page(items[(page - 1) * limit : page * limit], page, limit, len(items))


def rename_session(user_id: Any, session_id: str, title: str) -> ChatSession:
    title = " ".join((title or "").split())
    if not title:
        raise ValidationError("title: must not be empty", {"field": "title"})
    session = get_session(user_id, session_id)
    session.update(set__title=title[:200], set__updatedAt=utcnow())
    session.reload()
    return session


def set_pinned(user_id: Any, session_id: str, pinned: bool) -> ChatSession:
    session = get_session(user_id, session_id)
    session.update(set__pinned=bool(pinned), set__updatedAt=utcnow())
    session.reload()
    return session


def delete_stored(session: ChatSession) -> int:
    """Delete the session and its messages as stored; returns how many messages went with it.
    Its answers must have ended first: deleting a conversation is the engine's
    (`common.engine.cancel.delete_session`), which cancels and waits for them."""
    deleted = ChatMessage.objects(sessionId=session.sessionId).delete()
    session.delete()
    return deleted


def delete_all_for(user_id: Any) -> None:
    """Delete every message and session of the user (their account is being closed)."""
    ChatMessage.objects(userId__in=_owner(user_id)).delete()
    ChatSession.objects(userId__in=_owner(user_id)).delete()


def get_message(user_id: Any, message_id: str) -> ChatMessage:
    oid = object_id_or_none(message_id)
    msg = ChatMessage.objects(id=oid, userId__in=_owner(user_id)).first() if oid else None
    if msg is None:
        raise NotFound("Message not found.")
    return msg


def find_message(message_id: Any) -> ChatMessage | None:
    """A message by id, whoever owns it (the stream hub's check of an answer it follows)."""
    oid = object_id_or_none(message_id)
    return ChatMessage.objects(id=oid).first() if oid else None


def messages_in(ids: list[ObjectId], statuses: list[str]) -> list[ChatMessage]:
    """The messages among `ids` whose status is one of `statuses`."""
    return list(ChatMessage.objects(id__in=ids, status__in=statuses))


def unnote_turn(
    session: ChatSession, was_new: bool, count: int, leaf: tuple[str | None, str | None]
) -> None:
    """Take back a new session's insert, or `note_turn`'s count and the branch it showed, for a
    send that failed. `leaf`: (the send's leaf, the one shown before), put back unless another
    turn moved it since."""
    coll = ChatSession._get_collection()
    if was_new:
        coll.delete_one({"_id": session.id})
        return
    coll.update_one({"_id": session.id}, {"$inc": {"messageCount": -count}})
    ours, before = leaf
    if ours:
        coll.update_one(
            {"_id": session.id, "currentLeafId": ours}, {"$set": {"currentLeafId": before}}
        )


def forget_turn(session_id: str, was_new: bool) -> None:
    """After a turn's messages were deleted (an abandoned send): a session created for it goes
    too; an existing one's message count is recounted (idempotent, unlike a decrement)."""
    coll = ChatSession._get_collection()
    if was_new:
        coll.delete_one({"sessionId": session_id})
    else:
        count = len(ChatMessage.objects(sessionId=session_id).scalar("id"))
        coll.update_one({"sessionId": session_id}, {"$set": {"messageCount": count}})


def note_turn(
    session: ChatSession, first_text: str, model_ids: list[str], count: int, leaf: str | None
) -> None:
    """A user turn was stored: count its messages, note the models, show its branch (`leaf`),
    title an untitled session."""
    now = utcnow()
    update: dict[str, Any] = {
        "$inc": {"messageCount": count},
        "$set": {"lastMessageAt": now, "updatedAt": now},
    }
    if leaf:
        update["$set"]["currentLeafId"] = leaf
    new_models = [m for m in model_ids if m not in (session.models or [])]
    if new_models:
        update["$addToSet"] = {"models": {"$each": new_models}}
    ChatSession._get_collection().update_one({"_id": session.id}, update)
    if (session.title or DEFAULT_TITLE) == DEFAULT_TITLE and first_text:
        ChatSession._get_collection().update_one(
            {"_id": session.id, "title": DEFAULT_TITLE}, {"$set": {"title": title_from(first_text)}}
        )
