"""Seeding chats, orders and ledger rows straight into the documents (no chat/payment code)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from bson import ObjectId

from common import db
from common.conversations.models import ChatMessage, ChatSession, MessageUsage

_ids = itertools.count(1)


def at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def make_session(user_id: str, title: str = "chat") -> ChatSession:
    return ChatSession(
        sessionId=f"chat_test_{next(_ids)}", userId=ObjectId(user_id), title=title
    ).save()


def make_message(session: ChatSession, content: str = "hello", role: str = "assistant", **kw):
    return ChatMessage(
        sessionId=session.sessionId, userId=session.userId, role=role, content=content, **kw
    ).save()


def assistant_doc(user_id: ObjectId, when: datetime, model: str, tokens: int, **extra) -> dict:
    """A raw assistant message as the chat worker stores it."""
    doc = ChatMessage(
        sessionId="chat_seed",
        userId=user_id,
        role="assistant",
        modelId=model,
        status=extra.pop("status", "done"),
        usage=MessageUsage(
            promptTokens=tokens // 2, completionTokens=tokens - tokens // 2, totalTokens=tokens
        ),
        charged=extra.pop("charged", tokens),
        cost=extra.pop("cost", 0.0),
        createdAt=when,
        day=when.astimezone(UTC).date().isoformat(),
        **extra,
    ).to_mongo()
    return dict(doc)


def order_doc(
    user_id: ObjectId,
    plan_id: str,
    amount: int,
    status: str,
    paid: datetime | None,
    refunded: int = 0,
) -> dict:
    return {
        "userId": user_id,
        "planId": plan_id,
        "plan": "pro" if plan_id.startswith("pro") else "free",
        "tokens": 1000,
        "amount": amount,
        "currency": "INR",
        "status": status,
        "razorpayOrderId": f"order_{next(_ids)}",
        "receipt": f"rcpt_{next(_ids)}",
        "paidAt": paid,
        "refundedAmount": refunded,
        "createdAt": paid or at("2025-03-01"),
    }


def orders():
    return db.get_db()["orders"]
