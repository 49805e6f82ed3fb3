"""`/api/chat` routes: send, sessions, messages, cancel. Thin: parse, call a service, serialise."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request

from common.conversations import branches, sessions
from common.conversations import search as chat_search
from common.conversations.serialize import message_dict, session_dict, usage_dict
from common.engine import cancel as engine_cancel
from common.engine.errors import MessageFailed
from common.engine.waiting import wait_final
from common.sending.idempotency import MAX_KEY_CHARS, check_key
from common.sending.send import estimate as estimate_send
from common.sending.validation import MAX_MODELS
from common.users.snapshot import snapshot_from_doc
from config import get_settings
from web import api_models as out
from web.chat.commands import send_turn
from web.chat.schemas import (
    MessagesPageQuery,
    PageQuery,
    SearchQuery,
    SendBody,
    SessionBody,
    SessionPatchBody,
)
from web.hangup import HANG_UP_CHECK_SECONDS, client_hung_up
from web.openapi import operation
from web.responses import ok
from web.security import login_required
from web.validation import parse_body, parse_query

bp = Blueprint("chat", __name__, url_prefix="/api/chat", cli_group=None)
TAGS = ("Chat",)


@bp.post("")
@login_required
@operation(
    "Send a message to one or several models",
    tags=TAGS,
    body=SendBody,
    responses={202: out.SendAccepted, 200: out.SendAccepted},
    errors=(402, 403, 404, 409, 502),
    headers={
        "Idempotency-Key": {
            "description": "Send once: a repeat within `IDEMPOTENCY_WINDOW_SECONDS` answers the "
            "first send's result (`Idempotent-Replayed: true`); docs/chat.md",
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_CHARS},
        }
    },
    description="The answers stream over the websocket (docs/websocket.md); `wait: true` "
    "answers once they are done (200, or the answer's own error). 400 also for a blocked term "
    "or a conversation longer than the model's context; 403 for a paid model on the free plan; "
    "404 for an unknown model, session or `parentId`; 409 while a send with the same "
    "`Idempotency-Key` is still running; 413 for a message over `MAX_MESSAGE_CHARS`; 429 for "
    "the plan's requests per day; 502/503 (with `wait`) when the provider failed.",
)
def send_message():
    body = parse_body(SendBody)
    key = request.headers.get("Idempotency-Key")
    result = send_turn(body.command(g.user, check_key(key) if key is not None else None))
    replayed = {"Idempotent-Replayed": "true"} if result.replayed else None
    if body.wait:
        return _answer_when_done(result, replayed)
    data = {
        "session": session_dict(result.session),
        "userMessage": message_dict(result.user_message),
        "messages": [
            {"id": str(m.id), "modelId": m.modelId, "status": m.status} for m in result.messages
        ],
        "user": snapshot_from_doc(result.user_after) if result.user_after else g.user_snapshot(),
    }
    return ok(data, 202, headers=replayed)


def _answer_when_done(result, headers=None):
    # A client that hangs up while it waits cancels its answers (charged for what was made).
    final = wait_final(
        result.messages, client_gone=client_hung_up(), check_every=HANG_UP_CHECK_SECONDS
    )
    first = final[0]
    if len(final) == 1 and first.status == "failed":
        raise MessageFailed(dict(first.error or {}))
    data = {
        "session": session_dict(result.session.reload()),
        "message": message_dict(first),
        "usage": usage_dict(first),
        "charged": first.charged,
        "receipt": dict(first.receipt) if first.receipt else None,
        "messages": [message_dict(m) for m in final],
        "user": g.user_snapshot(),
    }
    return ok(data, headers=headers)


@bp.post("/estimate")
@login_required
@operation(
    "What a send with this body would hold per model, and its likely charge (places nothing)",
    tags=TAGS,
    body=SendBody,
    responses={200: out.SendEstimate},
    errors=(404,),
)
def estimate():
    """What a send with this body would hold per model, and the likely charge; places nothing."""
    body = parse_body(SendBody)
    models = [
        {
            "modelId": e.model_id,
            "hold": e.hold,
            "likely": e.likely,
            "promptTokens": e.prompt_estimate,
            "maxTokens": e.max_tokens,
            "rates": e.rates.as_dict(),
        }
        for e in estimate_send(body.command(g.user))
    ]
    total = sum(m["hold"] for m in models)
    return ok({"models": models, "total": total, "user": g.user_snapshot()})


@bp.post("/sessions")
@login_required
@operation("Create an empty session", tags=TAGS, body=SessionBody, responses={201: out.SessionData})
def create_session():
    body = parse_body(SessionBody)
    session = sessions.create_session(g.user.id, body.title, body.modelId)
    return ok({"session": session_dict(session), "user": g.user_snapshot()}, 201)


@bp.get("/sessions")
@login_required
@operation(
    "Your sessions, newest first", tags=TAGS, query=PageQuery, responses={200: out.SessionList}
)
def list_sessions():
    q = parse_query(PageQuery)
    page = sessions.list_sessions(g.user.id, q.page, q.limit)
    return _paged({"sessions": [session_dict(s) for s in page.items]}, page)


@bp.get("/sessions/<session_id>")
@login_required
@operation(
    "One session and a page of its messages",
    tags=TAGS,
    query=MessagesPageQuery,
    responses={200: out.SessionMessages},
)
def get_session(session_id: str):
    q = parse_query(MessagesPageQuery)
    session = sessions.get_session(g.user.id, session_id)
    if q.leafId is not None or q.branch == "current":
        shown = branches.current_branch(session, q.leafId)
        page = sessions.page_of(shown, q.page, q.limit)
    else:
        branches.tree_of(session)  # a conversation from before the tree gets its parents
        page = sessions.session_messages(session, q.page, q.limit)
    data = {"session": session_dict(session), "messages": [message_dict(m) for m in page.items]}
    return _paged(data, page)


@bp.patch("/sessions/<session_id>")
@login_required
@operation(
    "Rename a session, or pin / unpin it (pinned sessions list first)",
    tags=TAGS,
    body=SessionPatchBody,
    responses={200: out.SessionData},
)
def patch_session(session_id: str):
    body = parse_body(SessionPatchBody)
    session = sessions.get_session(g.user.id, session_id)
    if body.title is not None:
        session = sessions.rename_session(g.user.id, session_id, body.title)
    if body.pinned is not None:
        session = sessions.set_pinned(g.user.id, session_id, body.pinned)
    if body.currentLeafId is not None:
        session = branches.set_leaf(session, body.currentLeafId)
    return ok({"session": session_dict(session), "user": g.user_snapshot()})


@bp.delete("/sessions/<session_id>")
@login_required
@operation(
    "Delete a session and its messages (its running answers are stopped first)",
    tags=TAGS,
    responses={200: None},
    errors=(409,),
    description="409 when its answers are still running after `DELETE_WAIT_SECONDS`.",
)
def delete_session(session_id: str):
    deleted = engine_cancel.delete_session(g.user.id, session_id)
    return ok(
        {"sessionId": session_id, "deletedMessages": deleted, "user": g.user_snapshot()},
        message="Chat session deleted",
    )


@bp.get("/search")
@login_required
@operation(
    "Search your sessions' titles and message text (paginated)",
    tags=TAGS,
    query=SearchQuery,
    responses={200: None},
)
def search_sessions():
    q = parse_query(SearchQuery)
    page = chat_search.search(g.user.id, q.q, q.page, q.limit)
    results = [
        {"session": session_dict(h.session), "messageId": h.message_id, "snippet": h.snippet}
        for h in page.items
    ]
    return _paged({"results": results}, page)


@bp.get("/limits")
@login_required
@operation(
    "The server's limits a client shows (models per send, max tokens, message size)",
    tags=TAGS,
    responses={200: None},
)
def limits():
    """What a client needs to validate a send before making it."""
    settings = get_settings()
    data = {
        "maxModels": MAX_MODELS,
        "maxTokensPerRequest": settings.max_tokens_per_request,
        "maxMessageChars": settings.max_message_chars,
        # Whether this server has `POST /api/chat/estimate` (clients fall back to the prices).
        "estimate": any(r.rule == "/api/chat/estimate" for r in current_app.url_map.iter_rules()),
    }
    return ok({"limits": data, "user": g.user_snapshot()})


@bp.get("/messages/<message_id>")
@login_required
@operation("One message", tags=TAGS, responses={200: out.MessageData})
def get_message(message_id: str):
    msg = sessions.get_message(g.user.id, message_id)
    return ok({"message": message_dict(msg), "user": g.user_snapshot()})


@bp.post("/messages/<message_id>/cancel")
@login_required
@operation(
    "Stop an answer (charged for what was generated)",
    tags=TAGS,
    responses={200: out.MessageData},
)
def cancel(message_id: str):
    msg = engine_cancel.cancel_message(g.user.id, message_id)
    return ok({"message": message_dict(msg), "user": g.user_snapshot()})


def _paged(data: dict, page: sessions.Page):
    """The guide puts `results` and `pagination` beside `data`; we also keep them inside it."""
    data = {**data, "pagination": page.pagination, "user": g.user_snapshot()}
    body = {
        "status": "success",
        "results": len(page.items),
        "pagination": page.pagination,
        "data": data,
    }
    return jsonify(body), 200
