"""The conversation a model sees: its branch's user messages and that model's own finished
answers (the rule is `Tree.conversation`, common/conversations/tree.py). A user turn's images go
along to a model that takes images; to another, the turn is its text.

One rule for both places that build it: the send (which usually stores the conversation on the
pending message) and the worker (which rebuilds it when it was too large to store there).
"""

from __future__ import annotations

from common.conversations.branches import stored_messages
from common.conversations.models import ChatMessage
from common.conversations.tokens import trim
from common.conversations.tree import Tree, user_turn

__all__ = ["MIN_COMPLETION_ROOM", "history_for", "user_turn"]

MIN_COMPLETION_ROOM = 16


def history_for(
    assistant: ChatMessage, context_window: int, max_tokens: int, images: bool = False
) -> list[dict]:
    """The turns the provider sees for `assistant`: its branch up to the user message it
    answers and this model's answers on it, newest kept first, trimmed to fit
    `context_window - max_tokens`, always ending with that user message."""
    tree = Tree(stored_messages(assistant.sessionId))
    question = tree.by_id.get(assistant.parentId)
    if question is None:
        return []
    turns = tree.conversation(tree.parent_id(question), assistant.modelId, images)
    turns.append(user_turn(question.content or "", question.images if images else None))
    return trim(turns, max(MIN_COMPLETION_ROOM, context_window - max_tokens))
