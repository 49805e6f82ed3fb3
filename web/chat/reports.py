"""`POST /api/chat/messages/<id>/report`: a user flags a message in their own chat for review."""

from __future__ import annotations

from flask import Blueprint, g

from common.moderation import service
from web.chat.schemas import ReportBody
from web.responses import ok
from web.security import login_required
from web.validation import optional_body

bp = Blueprint("chat_reports", __name__, url_prefix="/api/chat")


@bp.post("/messages/<message_id>/report")
@login_required
def report(message_id: str):
    body = optional_body(ReportBody)
    result = service.report_message(g.user, message_id, body.reason)
    data = {
        "messageId": result.item["id"],
        "flagged": True,
        "alreadyReported": result.already_flagged,
    }
    return ok(data, 200 if result.already_flagged else 201)
