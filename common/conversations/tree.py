"""A conversation as a tree (DESIGN.md, "Conversation trees"). Pure: messages in, answers out.

Every message has a parent (`parentId`): an answer's is the user message it answers; a user
message's is the message it follows — an answer, or null for the first message. Editing a user
message adds a sibling (same parent); regenerating adds a sibling answer (same user message, same
model). Answers of *different* models to one user message are the columns of a comparison, not
branches of each other.

A branch is the path from the root to a leaf; the session remembers the leaf it shows
(`currentLeafId`). What a model sees when it answers is that path, per model: the user messages
on it and, for each, the model's own finished answer — the path's answer when it is that model's,
else (a comparison column) the model's newest finished answer to that user message. Never a
message of another branch.

Conversations stored before the tree have no parent on their user messages: `legacy_parents`
says which message each one followed (the newest answer to the previous user message, or that
user message when it had none), and `conversations.branches.upgrade` stores it once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol


class Node(Protocol):
    id: Any
    role: str
    parentId: Any  # noqa: N815
    modelId: str | None  # noqa: N815
    status: str
    content: str | None


def user_turn(text: str, images: list[str] | None = None) -> dict:
    """A user turn in OpenAI's shape: its text, or text and `image_url` parts."""
    if not images:
        return {"role": "user", "content": text}
    parts = [{"type": "text", "text": text}] if text else []
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in images]
    return {"role": "user", "content": parts}


class Tree:
    """Messages in creation order (oldest first), indexed by id and parent."""

    def __init__(self, messages: Iterable[Node]):
        self.messages = list(messages)
        self.by_id = {m.id: m for m in self.messages}
        self.order = {m.id: i for i, m in enumerate(self.messages)}
        self.kids: dict[Any, list[Node]] = {}
        for m in self.messages:
            self.kids.setdefault(self.parent_id(m), []).append(m)

    def parent_id(self, m: Node) -> Any:
        """A parent that is not in the tree (deleted) makes a message a root."""
        return m.parentId if m.parentId in self.by_id else None

    def children(self, message_id: Any) -> list[Node]:
        return self.kids.get(message_id, [])

    def newest(self) -> Node | None:
        return self.messages[-1] if self.messages else None

    def path(self, leaf_id: Any) -> list[Node]:
        """Root → `leaf_id`; an unknown leaf means the newest message (a leaf whose send was
        undone)."""
        node = self.by_id.get(leaf_id) or self.newest()
        out: list[Node] = []
        seen = set()
        while node is not None and node.id not in seen:
            seen.add(node.id)
            out.append(node)
            node = self.by_id.get(self.parent_id(node))
        return out[::-1]

    def leaf_below(self, message_id: Any) -> Any:
        """The branch through `message_id`: the newest message of its subtree (itself when it
        has no descendants). Unknown ids give the newest message."""
        if message_id not in self.by_id:
            newest = self.newest()
            return newest.id if newest else None
        best, stack = message_id, [message_id]
        while stack:
            for kid in self.children(stack.pop()):
                if self.order[kid.id] > self.order[best]:
                    best = kid.id
                stack.append(kid.id)
        return best

    def siblings(self, m: Node) -> list[Node]:
        """The alternatives of `m`, itself included, oldest first: for a user message the user
        messages with its parent (edits); for an answer its model's answers to its user message
        (regenerations)."""
        same = self.children(self.parent_id(m))
        if m.role == "assistant":
            return [s for s in same if s.role == "assistant" and s.modelId == m.modelId]
        return [s for s in same if s.role != "assistant"]

    def newest_answer(self, user_id: Any, model_id: str, done_only: bool = True) -> Node | None:
        answers = [
            k
            for k in self.children(user_id)
            if k.role == "assistant"
            and k.modelId == model_id
            and (not done_only or k.status == "done")
        ]
        return answers[-1] if answers else None

    def branch(self, leaf_id: Any) -> list[Node]:
        """What a client shows for this leaf, in creation order: the path, and under each user
        message on it the newest answer of every other model that answered it (the comparison's
        other columns)."""
        path = self.path(leaf_id)
        keep = {m.id for m in path}
        for i, m in enumerate(path):
            if m.role == "assistant":
                continue
            on_path = path[i + 1] if i + 1 < len(path) else None
            models = {k.modelId for k in self.children(m.id) if k.role == "assistant"}
            for model in models - {on_path.modelId if on_path is not None else None}:
                answer = self.newest_answer(m.id, model, done_only=False)
                if answer is not None:
                    keep.add(answer.id)
        return [m for m in self.messages if m.id in keep]

    def conversation(self, follows: Any, model_id: str, images: bool = False) -> list[dict]:
        """The turns `model_id` sees before a user message that follows `follows` (None: the
        conversation starts there): the path's user messages (with their images when the
        model takes `images`) and the model's own finished answers to them."""
        if follows is None:
            return []
        path = self.path(follows) if follows in self.by_id else []
        turns = []
        for i, m in enumerate(path):
            if m.role == "assistant":
                continue
            turns.append(user_turn(m.content or "", getattr(m, "images", None) if images else None))
            on_path = path[i + 1] if i + 1 < len(path) else None
            if on_path is not None and on_path.modelId == model_id:
                answer = on_path if on_path.status == "done" else None
            else:
                answer = self.newest_answer(m.id, model_id)
            if answer is not None:
                turns.append({"role": "assistant", "content": answer.content or ""})
        return turns

    def leaf_after_regenerate(self, leaf_id: Any, user_id: Any, model_id: str, new_id: Any) -> Any:
        """Where the shown branch goes when `model_id` answers `user_id` again (`new_id`): to
        the new answer — unless the branch continues from that user message through another
        model's answer (a comparison column was regenerated), where it stays."""
        path = self.path(leaf_id)
        ids = [m.id for m in path]
        if user_id in ids:
            i = ids.index(user_id)
            after = path[i + 1] if i + 1 < len(path) else None
            if after is not None and after.modelId != model_id:
                return leaf_id
        return new_id


def legacy_parents(messages: list[Node]) -> dict[Any, Any]:
    """For a conversation stored before the tree (oldest first): the parent each user message
    without one followed — the newest answer to the previous user message, or that user
    message when it has none. The first message stays a root."""
    parents: dict[Any, Any] = {}
    previous = None
    newest: dict[Any, Any] = {}
    for m in messages:
        if m.role == "assistant":
            if m.parentId is not None:
                newest[m.parentId] = m.id
            continue
        if m.parentId is None and previous is not None:
            parents[m.id] = newest.get(previous.id, previous.id)
        previous = m
    return parents
