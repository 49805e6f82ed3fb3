"""An admin's moderation actions: flag, dismiss, hide, remove, blocked terms, bans; each audited.

The moderation record itself (and the flagged list) belongs to `common.moderation`; this
module decides who did what and records it (direction: admin → moderation → conversations).
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from common.admin import users as admin_users
from common.audit import service as audit
from common.audit.service import Actor
from common.errors import ValidationError
from common.moderation import service as moderation
from common.moderation import terms
from common.stored import utcnow
from common.users.models import User


def flag(actor: Actor, kind: str, item_id: str, reason: str | None) -> dict:
    doc = moderation.find(kind, item_id)
    fields = moderation.flag_fields("admin", moderation.checked_reason(reason), ObjectId(actor.id))
    after = moderation.apply(kind, doc, fields)
    _audit(actor, f"{kind}.flag", kind, doc, after)
    return moderation.item_view(kind, after)


def dismiss(actor: Actor, kind: str, item_id: str) -> dict:
    """The flag was wrong: clear it and mark the item reviewed."""
    doc = moderation.find(kind, item_id)
    after = moderation.apply(kind, doc, {"flagged": False, **_reviewed(actor)})
    _audit(actor, f"{kind}.dismiss", kind, doc, after)
    return moderation.item_view(kind, after)


def hide(actor: Actor, kind: str, item_id: str, hidden: bool = True) -> dict:
    doc = moderation.find(kind, item_id)
    after = moderation.apply(kind, doc, {"hidden": hidden, **_reviewed(actor)})
    _audit(actor, f"{kind}.{'hide' if hidden else 'unhide'}", kind, doc, after)
    return moderation.item_view(kind, after)


def remove(actor: Actor, kind: str, item_id: str) -> dict:
    """Blank the content (a session: every message in it) and hide it; the record stays."""
    doc = moderation.find(kind, item_id)
    gone = {"hidden": True, "removed": True, **_reviewed(actor)}
    if kind in ("message", "attempt"):
        after = moderation.apply(kind, doc, gone, content="")
        before_extra = {"content": doc.get("content", "")}
    else:
        removed = moderation.remove_session_contents(doc["sessionId"])
        after = moderation.apply(kind, doc, gone)
        before_extra = {"messagesRemoved": removed}
    _audit(actor, f"{kind}.remove", kind, doc, after, before_extra)
    return moderation.item_view(kind, after)


def block_term(actor: Actor, term: str) -> str:
    term = terms.add_term(term, actor.id)
    audit.record(actor, "term.add", "term", term, {}, {"term": term})
    return term


def unblock_term(actor: Actor, term: str) -> str:
    term = terms.remove_term(term)
    audit.record(actor, "term.remove", "term", term, {"term": term}, {})
    return term


def ban(actor: Actor, user_id: Any, reason: str) -> User:
    """Deactivate with a reason: every token of the user stops working at once."""
    reason = moderation.checked_reason(reason)
    if not reason:
        raise ValidationError("A ban needs a reason.", {"field": "reason"})
    return admin_users.set_active(actor, user_id, False, reason, action="user.ban")


def _reviewed(actor: Actor) -> dict:
    return {"reviewedBy": ObjectId(actor.id), "reviewedAt": utcnow()}


def _audit(actor: Actor, action: str, kind: str, before: dict, after: dict, extra=None) -> None:
    audit.record(
        actor,
        action,
        kind,
        moderation.public_id(kind, before),
        {**moderation.moderation_view(before), **(extra or {})},
        moderation.moderation_view(after),
    )
