"""Token estimates, and trimming a conversation to a token budget.

The wallet holds `prompt estimate + maxTokens` before a provider says what it really used; the
estimate (about four characters per token, plus a few per message for the chat template) only
has to be a fair upper-ish bound, because the real usage report replaces it at settlement.
"""

from __future__ import annotations

import json
from typing import Any

from common.conversations.images import image_tokens

PER_MESSAGE_OVERHEAD = 4


def estimate_tokens(text: str) -> int:
    return (len(text) + 3) // 4


def content_text(content: Any) -> str:
    """A turn's text: the string, or its text parts joined (images are not text)."""
    if isinstance(content, list):
        return "".join(
            str(p.get("text") or "")
            for p in content
            if isinstance(p, dict) and p.get("type") == "text"
        )
    return content if isinstance(content, str) else ""


def turn_text(turn: dict) -> str:
    """Everything in a turn the model reads as text: its content and its tool calls."""
    calls = turn.get("tool_calls") or []
    return content_text(turn.get("content")) + "".join(json.dumps(c) for c in calls)


def _images(turn: dict) -> int:
    content = turn.get("content")
    if not isinstance(content, list):
        return 0
    return sum(
        image_tokens(str(image.get("url") or ""), image.get("detail"))
        for p in content
        if isinstance(p, dict) and isinstance(image := p.get("image_url"), dict)
    )


def estimate_turn(turn: dict) -> int:
    return estimate_tokens(turn_text(turn)) + _images(turn) + PER_MESSAGE_OVERHEAD


def estimate_prompt(messages: list[dict]) -> int:
    return sum(estimate_turn(m) for m in messages) + 2


def trim(turns: list[dict], budget: int) -> list[dict]:
    """Drop the oldest turns until the rest fit `budget` tokens (the last turn always stays)."""
    kept: list[dict] = []
    used = 2
    for turn in reversed(turns):
        cost = estimate_turn(turn)
        if kept and used + cost > budget:
            break
        kept.append(turn)
        used += cost
    kept.reverse()
    while kept and kept[0]["role"] == "assistant":
        kept.pop(0)
    return kept
