"""The stored side of conversation trees: a session's tree, its shown branch, and the one-time
upgrade of a conversation stored before the tree (rules in `common.conversations.tree`)."""

from __future__ import annotations

from typing import Any

from common.conversations.models import ChatMessage, ChatSession
from common.conversations.tree import Tree, legacy_parents
from common.errors import NotFound
from common.stored import object_id_or_none, utcnow


def stored_messages(session_id: str) -> list[ChatMessage]:
    """Every message of the session, oldest first (what a tree needs, content included)."""
    return list(
        ChatMessage.objects(sessionId=session_id)
        .order_by("createdAt", "id")
        .only("role", "content", "images", "modelId", "status", "parentId")
    )


def tree_of(session: ChatSession) -> Tree:
    """The session's tree, upgrading a conversation from before the tree first."""
    return Tree(upgrade(session, stored_messages(session.sessionId)))


def upgrade(session: ChatSession, messages: list[ChatMessage]) -> list[ChatMessage]:
    """A session without `currentLeafId` that has messages is from before the tree: store the
    parent each user message followed (`legacy_parents`) and show the newest message. Safe to
    repeat and to race: the parents are the same for everyone who computes them, and the leaf
    is only set where none is yet. Returns `messages` with their parents filled in."""
    if session.currentLeafId or not messages:
        return messages
    parents = legacy_parents(messages)
    coll = ChatMessage._get_collection()
    for message_id, parent in parents.items():
        coll.update_one({"_id": message_id, "role": "user"}, {"$set": {"parentId": parent}})
    for m in messages:
        if m.id in parents:
            m.parentId = parents[m.id]
    newest = str(messages[-1].id)
    ChatSession._get_collection().update_one(
        {"_id": session.id, "currentLeafId": None}, {"$set": {"currentLeafId": newest}}
    )
    session.currentLeafId = session.currentLeafId or newest
    return messages


def _leaf_id(session: ChatSession) -> Any:
    return object_id_or_none(session.currentLeafId)


def current_branch(session: ChatSession, leaf: str | None = None) -> list[ChatMessage]:
    """The messages a client shows: the branch through `leaf` (a message id; default the
    session's current leaf). `NotFound` for an id that is not a message of the session."""
    tree = tree_of(session)
    if leaf is None:
        return tree.branch(_leaf_id(session))
    return tree.branch(tree.leaf_below(_message_in(tree, leaf)))


def set_leaf(session: ChatSession, message_id: str) -> ChatSession:
    """Show the branch through `message_id` (its newest leaf) from now on, on every device."""
    tree = tree_of(session)
    leaf = tree.leaf_below(_message_in(tree, message_id))
    now = utcnow()
    session.update(set__currentLeafId=str(leaf), set__updatedAt=now)
    session.reload()
    return session


def _message_in(tree: Tree, message_id: str) -> Any:
    oid = object_id_or_none(message_id)
    if oid is None or oid not in tree.by_id:
        raise NotFound("Message not found in this conversation.")
    return oid
