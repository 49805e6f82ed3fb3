"""`/api/admin/moderation`: flagged content, hiding and removing it, blocked terms."""

from __future__ import annotations

from common.admin import moderation as actions
from common.moderation import service, terms
from web.admin.routes import actor, bp
from web.admin.schemas import ContextQuery, FlagBody, FlaggedQuery, HideBody, TermBody
from web.responses import ok
from web.security import admin_required
from web.validation import optional_body, parse_body, parse_query

_KIND = {"messages": "message", "sessions": "session"}
_ITEM = "/moderation/<any(messages, sessions):kinds>/<item_id>"


@bp.get("/moderation/flagged")
@admin_required
def flagged():
    q = parse_query(FlaggedQuery)
    return ok(service.list_flagged(q.type, q.status, q.source, q.page, q.limit))


@bp.get("/moderation/messages/<item_id>/context")
@admin_required
def message_context(item_id: str):
    q = parse_query(ContextQuery)
    return ok(service.message_context(item_id, q.around))


@bp.post(f"{_ITEM}/flag")
@admin_required
def flag(kinds: str, item_id: str):
    body = optional_body(FlagBody)
    return ok({"item": actions.flag(actor(), _KIND[kinds], item_id, body.reason)})


@bp.post(f"{_ITEM}/dismiss")
@admin_required
def dismiss(kinds: str, item_id: str):
    return ok({"item": actions.dismiss(actor(), _KIND[kinds], item_id)})


@bp.post(f"{_ITEM}/hide")
@admin_required
def hide(kinds: str, item_id: str):
    body = optional_body(HideBody)
    return ok({"item": actions.hide(actor(), _KIND[kinds], item_id, body.hidden)})


@bp.delete(_ITEM)
@admin_required
def remove(kinds: str, item_id: str):
    return ok({"item": actions.remove(actor(), _KIND[kinds], item_id)})


@bp.get("/moderation/blocked-terms")
@admin_required
def blocked_terms():
    return ok({"configured": terms.configured_terms(), "runtime": terms.runtime_terms()})


@bp.post("/moderation/blocked-terms")
@admin_required
def add_blocked_term():
    term = actions.block_term(actor(), parse_body(TermBody).term)
    return ok({"term": term, "runtime": terms.runtime_terms()}, 201)


@bp.delete("/moderation/blocked-terms/<path:term>")
@admin_required
def remove_blocked_term(term: str):
    removed = actions.unblock_term(actor(), term)
    return ok({"term": removed, "runtime": terms.runtime_terms()})
