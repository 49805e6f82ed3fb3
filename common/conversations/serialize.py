"""Chat documents as the API shows them (the guide's field names)."""

from __future__ import annotations

from typing import Any

from common.conversations.models import ChatMessage, ChatSession
from common.stored import iso


def session_dict(session: ChatSession) -> dict[str, Any]:
    return {
        "sessionId": session.sessionId,
        "title": HIDDEN_TEXT if _is_hidden(session) else session.title,
        "hidden": _is_hidden(session),
        "userId": str(session.userId),
        "models": list(session.models or []),
        "pinned": bool(session.pinned),
        "currentLeafId": session.currentLeafId or None,
        "messageCount": session.messageCount,
        "totalTokens": session.totalTokens,
        "totalCost": round(session.totalCost or 0.0, 8),
        "lastMessageAt": iso(session.lastMessageAt),
        "createdAt": iso(session.createdAt),
        "updatedAt": iso(session.updatedAt),
    }


def usage_dict(msg: ChatMessage) -> dict[str, int]:
    u = msg.usage
    return {
        "promptTokens": u.promptTokens if u else 0,
        "completionTokens": u.completionTokens if u else 0,
        "totalTokens": u.totalTokens if u else 0,
    }


HIDDEN_TEXT = "[hidden by a moderator]"


def _is_hidden(doc: ChatMessage | ChatSession) -> bool:
    mod = doc.moderation
    return bool(mod and (mod.hidden or mod.removed))


def message_dict(msg: ChatMessage) -> dict[str, Any]:
    hidden = _is_hidden(msg)
    data = {
        "id": str(msg.id),
        "sessionId": msg.sessionId,
        "role": msg.role,
        "content": HIDDEN_TEXT if hidden else msg.content,
        "hidden": hidden,
        "modelId": msg.modelId,
        "parentId": str(msg.parentId) if msg.parentId else None,
        "status": msg.status,
        "createdAt": iso(msg.createdAt),
    }
    if msg.role == "user" and msg.images:
        data["images"] = [] if hidden else list(msg.images)
    if msg.role == "assistant":
        data.update(
            usage=usage_dict(msg),
            charged=msg.charged,
            reserved=msg.reserved,
            rates=dict(msg.rates) if msg.rates else None,
            receipt=dict(msg.receipt) if msg.receipt else None,
            cost=msg.cost,
            providerCost=msg.providerCost,
            lastSeq=msg.lastSeq,
            error=dict(msg.error) if msg.error else None,
            ttftMs=msg.ttftMs,
            durationMs=msg.durationMs,
            tokensPerSecond=msg.tokensPerSecond,
            completedAt=iso(msg.completedAt),
        )
    return data
