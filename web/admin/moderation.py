"""`/api/admin/moderation`: flagged content, hiding and removing it, blocked terms."""

from __future__ import annotations

from common.admin import moderation as actions
from common.moderation import service, terms
from web.admin.routes import TAGS, actor, bp
from web.admin.schemas import ContextQuery, FlagBody, FlaggedQuery, HideBody, TermBody
from web.openapi import ADMIN, operation
from web.responses import ok
from web.security import admin_required
from web.validation import optional_body, parse_body, parse_query

_KIND = {"messages": "message", "sessions": "session", "attempts": "attempt"}
_ITEM = "/moderation/<any(messages, sessions, attempts):kinds>/<item_id>"


@bp.get("/moderation/flagged")
@admin_required
@operation(
    "Flagged messages and sessions",
    tags=TAGS,
    auth=ADMIN,
    query=FlaggedQuery,
    responses={200: None},
)
def flagged():
    q = parse_query(FlaggedQuery)
    return ok(service.list_flagged(q.type, q.status, q.source, q.page, q.limit))


@bp.get("/moderation/messages/<item_id>/context")
@admin_required
@operation(
    "A message in context: `around` messages before and after it in its session",
    tags=TAGS,
    auth=ADMIN,
    query=ContextQuery,
    responses={200: None},
)
def message_context(item_id: str):
    q = parse_query(ContextQuery)
    return ok(service.message_context(item_id, q.around))


@bp.post(f"{_ITEM}/flag")
@admin_required
@operation(
    "Flag a message or session",
    tags=TAGS,
    auth=ADMIN,
    body=FlagBody,
    body_required=False,
    responses={200: None},
)
def flag(kinds: str, item_id: str):
    body = optional_body(FlagBody)
    return ok({"item": actions.flag(actor(), _KIND[kinds], item_id, body.reason)})


@bp.post(f"{_ITEM}/dismiss")
@admin_required
@operation(
    "Dismiss a flag",
    tags=TAGS,
    auth=ADMIN,
    responses={200: None},
)
def dismiss(kinds: str, item_id: str):
    return ok({"item": actions.dismiss(actor(), _KIND[kinds], item_id)})


@bp.post(f"{_ITEM}/hide")
@admin_required
@operation(
    "Hide a message or session (or show it again)",
    tags=TAGS,
    auth=ADMIN,
    body=HideBody,
    body_required=False,
    responses={200: None},
)
def hide(kinds: str, item_id: str):
    body = optional_body(HideBody)
    return ok({"item": actions.hide(actor(), _KIND[kinds], item_id, body.hidden)})


@bp.delete(_ITEM)
@admin_required
@operation(
    "Remove a message's or session's content",
    tags=TAGS,
    auth=ADMIN,
    responses={200: None},
)
def remove(kinds: str, item_id: str):
    return ok({"item": actions.remove(actor(), _KIND[kinds], item_id)})


@bp.get("/moderation/blocked-terms")
@admin_required
@operation(
    "The blocked terms",
    tags=TAGS,
    auth=ADMIN,
    responses={200: None},
)
def blocked_terms():
    return ok({"configured": terms.configured_terms(), "runtime": terms.runtime_terms()})


@bp.post("/moderation/blocked-terms")
@admin_required
@operation(
    "Block a term",
    tags=TAGS,
    auth=ADMIN,
    body=TermBody,
    responses={201: None},
)
def add_blocked_term():
    term = actions.block_term(actor(), parse_body(TermBody).term)
    return ok({"term": term, "runtime": terms.runtime_terms()}, 201)


@bp.delete("/moderation/blocked-terms/<path:term>")
@admin_required
@operation(
    "Unblock a term",
    tags=TAGS,
    auth=ADMIN,
    responses={200: None},
)
def remove_blocked_term(term: str):
    removed = actions.unblock_term(actor(), term)
    return ok({"term": removed, "runtime": terms.runtime_terms()})
