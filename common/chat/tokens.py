"""Token estimates and the conversation sent to a provider.

The wallet holds `prompt estimate + maxTokens` before a provider says what it really used; the
estimate (about four characters per token, plus a few per message for the chat template) only
has to be a fair upper-ish bound, because the real usage report replaces it at settlement.
"""

from __future__ import annotations

from common.chat.models import ChatMessage

PER_MESSAGE_OVERHEAD = 4
MIN_COMPLETION_ROOM = 16


def estimate_tokens(text: str) -> int:
    return (len(text) + 3) // 4


def estimate_prompt(messages: list[dict[str, str]]) -> int:
    return sum(estimate_tokens(m["content"]) + PER_MESSAGE_OVERHEAD for m in messages) + 2


def history_for(assistant: ChatMessage, context_window: int, max_tokens: int) -> list[dict]:
    """The turns the provider sees for `assistant`: earlier user turns and this model's answers,
    newest kept first, trimmed to fit `context_window - max_tokens`, always ending with the
    user message it answers."""
    earlier = (
        ChatMessage.objects(sessionId=assistant.sessionId)
        .order_by("createdAt", "id")
        .only("id", "role", "content", "modelId", "status")
    )
    turns = []
    for m in earlier:
        if m.role == "user" or (
            m.role == "assistant" and m.status == "done" and m.modelId == assistant.modelId
        ):
            turns.append({"role": m.role, "content": m.content or ""})
        if m.id == assistant.parentId:
            break
    return trim(turns, max(MIN_COMPLETION_ROOM, context_window - max_tokens))


def trim(turns: list[dict], budget: int) -> list[dict]:
    """Drop the oldest turns until the rest fit `budget` tokens (the last turn always stays)."""
    kept: list[dict] = []
    used = 2
    for turn in reversed(turns):
        cost = estimate_tokens(turn["content"]) + PER_MESSAGE_OVERHEAD
        if kept and used + cost > budget:
            break
        kept.append(turn)
        used += cost
    kept.reverse()
    while kept and kept[0]["role"] == "assistant":
        kept.pop(0)
    return kept
