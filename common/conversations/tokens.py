"""Token estimates, and trimming a conversation to a token budget.

The wallet holds `prompt estimate + maxTokens` before a provider says what it really used; the
estimate (about four characters per token, plus a few per message for the chat template) only
has to be a fair upper-ish bound, because the real usage report replaces it at settlement.
"""

from __future__ import annotations

PER_MESSAGE_OVERHEAD = 4


def estimate_tokens(text: str) -> int:
    return (len(text) + 3) // 4


def estimate_prompt(messages: list[dict[str, str]]) -> int:
    return sum(estimate_tokens(m["content"]) + PER_MESSAGE_OVERHEAD for m in messages) + 2


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
