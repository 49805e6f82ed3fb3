"""The conversation a model sees: the user's turns and that model's own finished answers.

One rule for both places that build it: the send (which usually stores the conversation on the
pending message) and the worker (which rebuilds it when it was too large to store there).
"""

from __future__ import annotations

from common.conversations.models import ChatMessage
from common.conversations.tokens import trim

MIN_COMPLETION_ROOM = 16


def session_history(session_id: str) -> list[ChatMessage]:
    """The session's messages, oldest first (only what the conversation needs)."""
    return list(
        ChatMessage.objects(sessionId=session_id)
        .order_by("createdAt", "id")
        .only("role", "content", "images", "modelId", "status", "parentId")
    )


def turns_for(history: list[ChatMessage], model_id: str, images: bool = False) -> list[dict]:
    """The user's turns and this model's finished answers (what this model said before); of
    answers regenerated for one turn, only the newest. A user turn's images go along to a model
    that takes `images` (to another, the turn is its text)."""
    newest = {}
    for m in history:
        if m.role == "assistant" and m.status == "done" and m.modelId == model_id:
            newest[m.parentId] = m.id
    kept = set(newest.values())
    return [
        user_turn(m.content or "", m.images if images else None)
        if m.role == "user"
        else {"role": m.role, "content": m.content or ""}
        for m in history
        if m.role == "user" or m.id in kept
    ]


def user_turn(text: str, images: list[str] | None = None) -> dict:
    """A user turn in OpenAI's shape: its text, or text and `image_url` parts."""
    if not images:
        return {"role": "user", "content": text}
    parts = [{"type": "text", "text": text}] if text else []
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in images]
    return {"role": "user", "content": parts}


def history_for(
    assistant: ChatMessage, context_window: int, max_tokens: int, images: bool = False
) -> list[dict]:
    """The turns the provider sees for `assistant`: earlier user turns and this model's answers,
    newest kept first, trimmed to fit `context_window - max_tokens`, always ending with the
    user message it answers."""
    history = session_history(assistant.sessionId)
    ids = [m.id for m in history]
    if assistant.parentId in ids:
        history = history[: ids.index(assistant.parentId) + 1]
    turns = turns_for(history, assistant.modelId, images)
    return trim(turns, max(MIN_COMPLETION_ROOM, context_window - max_tokens))
