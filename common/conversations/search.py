"""Search over one user's conversations: session titles and message text, owner-only.

On MongoDB the query uses text indexes (`title` on sessions, `content` on messages: whole
words, no stemming), created here on first use rather than in the documents' `meta`: nx-27017
fails ("constraint failed") when a second process re-creates an existing text index, and
mongoengine re-creates `meta` indexes in every process. nx-27017 answers `$text` with substring
matches and no index, so there the same search is a case-insensitive `$regex` of the escaped
phrase (README deviation table); both return the same shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from common import db
from common.conversations.models import ChatMessage, ChatSession
from common.conversations.sessions import Page
from common.errors import ValidationError
from common.stored import same_id, sort_key

# How many matching messages one search reads at most (the newest first).
MAX_MESSAGE_HITS = 2000
SNIPPET_CHARS = 160


@dataclass(frozen=True)
class Hit:
    session: ChatSession
    message_id: str | None  # the newest matching message, when the text matched
    snippet: str  # text around the match (the title when only the title matched)


def search(user_id: Any, query: str, page: int = 1, limit: int = 20) -> Page:
    """Sessions of `user_id` whose title or any message matches `query`, newest activity first."""
    text = " ".join((query or "").split())
    if not text:
        raise ValidationError("q: must not be empty", {"field": "q"})
    ensure_text_indexes()
    owner = {"userId": same_id(user_id)}
    by_session = _message_hits(owner, text)
    titled = {
        s["sessionId"]
        for s in ChatSession._get_collection().find(
            {**owner, **_match("title", text)}, {"sessionId": 1}
        )
    }
    ids = list(titled | set(by_session))
    sessions = [s for s in ChatSession.objects(sessionId__in=ids) if not _hidden(s)]
    sessions.sort(key=lambda s: sort_key(s.lastMessageAt), reverse=True)
    chosen = sessions[(page - 1) * limit : page * limit]
    hits = []
    for s in chosen:
        found = by_session.get(s.sessionId)
        if found:
            hits.append(Hit(s, str(found["_id"]), snippet(found.get("content") or "", text)))
        else:
            hits.append(Hit(s, None, s.title or ""))
    return Page(hits, page, limit, len(sessions))


_indexed: dict[str, bool] = {}


def ensure_text_indexes() -> None:
    """Create the text indexes on MongoDB (idempotent there); nothing on nx-27017."""
    if _indexed.get("done") or db.is_embedded():
        return
    options = {"default_language": "none"}
    ChatSession._get_collection().create_index([("title", "text")], **options)
    ChatMessage._get_collection().create_index([("content", "text")], **options)
    _indexed["done"] = True


def _match(field: str, text: str) -> dict:
    if db.is_embedded():
        return {field: {"$regex": re.escape(text), "$options": "i"}}
    return {"$text": {"$search": f'"{text}"'}}


def _message_hits(owner: dict, text: str) -> dict[str, dict]:
    """The newest visible matching message per session."""
    cursor = (
        ChatMessage._get_collection()
        .find(
            {**owner, **_match("content", text)},
            {"sessionId": 1, "content": 1, "createdAt": 1, "moderation": 1},
        )
        .limit(MAX_MESSAGE_HITS)
    )
    best: dict[str, dict] = {}
    for doc in cursor:
        if _hidden_doc(doc) or not doc.get("sessionId"):  # an API usage record: no conversation
            continue
        seen = best.get(doc["sessionId"])
        if seen is None or sort_key(doc.get("createdAt")) > sort_key(seen.get("createdAt")):
            best[doc["sessionId"]] = doc
    return best


def _hidden_doc(doc: dict) -> bool:
    mod = doc.get("moderation") or {}
    return bool(mod.get("hidden") or mod.get("removed"))


def _hidden(session: ChatSession) -> bool:
    mod = session.moderation
    return bool(mod and (mod.hidden or mod.removed))


def snippet(content: str, text: str) -> str:
    """About SNIPPET_CHARS of `content` around the first (case-insensitive) match of `text`."""
    flat = " ".join(content.split())
    at = flat.lower().find(text.lower())
    if at < 0:
        return flat[:SNIPPET_CHARS]
    start = max(0, at - SNIPPET_CHARS // 3)
    end = min(len(flat), start + SNIPPET_CHARS)
    return ("…" if start else "") + flat[start:end] + ("…" if end < len(flat) else "")
