"""`POST /api/chat/messages/<id>/report`: a user flags a message in their own chat for review."""

from __future__ import annotations

from flask import Blueprint, g

from common.moderation import service
from web.chat.schemas import ReportBody
from web.openapi import operation
from web.responses import ok
from web.security import login_required
from web.validation import optional_body

bp = Blueprint("chat_reports", __name__, url_prefix="/api/chat")


@bp.post("/messages/<message_id>/report")
@login_required
@operation(
    "Report a message to the moderators",
    tags=("Chat",),
    body=ReportBody,
    body_required=False,
    responses={201: None, 200: None},
    description="201 the first time, 200 when it was already reported.",
)
def report(message_id: str):
    body = optional_body(ReportBody)
    result = service.report_message(g.user, message_id, body.reason)
    data = {
        "messageId": result.item["id"],
        "flagged": True,
        "alreadyReported": result.already_flagged,
    }
    return ok(data, 200 if result.already_flagged else 201)
