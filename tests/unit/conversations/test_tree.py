"""The conversation tree's rules (common/conversations/tree.py): pure, no store."""

from __future__ import annotations

from dataclasses import dataclass

from common.conversations.tree import Tree, legacy_parents


@dataclass
class M:
    id: str
    role: str
    parentId: str | None = None  # noqa: N815
    modelId: str | None = None  # noqa: N815
    status: str = "done"
    content: str = ""


def user(i, parent=None, text=None):
    return M(i, "user", parent, content=text or i)


def answer(i, parent, model="a", status="done", text=None):
    return M(i, "assistant", parent, model, status, text or i)


# u1 → a1 → u2 → a2 ; u2' (an edit of u2) → a2' ; a1r (a regenerate of a1, later)
EDITED = [
    user("u1"),
    answer("a1", "u1"),
    user("u2", "a1"),
    answer("a2", "u2"),
    user("u2e", "a1", "edited"),
    answer("a2e", "u2e"),
    answer("a1r", "u1"),
]


def ids(messages):
    return [m.id for m in messages]


def test_the_path_is_root_to_leaf_and_an_unknown_leaf_is_the_newest_message():
    tree = Tree(EDITED)
    assert ids(tree.path("a2")) == ["u1", "a1", "u2", "a2"]
    assert ids(tree.path("a2e")) == ["u1", "a1", "u2e", "a2e"]
    assert ids(tree.path("gone")) == ["u1", "a1r"]
    assert ids(tree.path(None)) == ["u1", "a1r"]
    assert Tree([]).path("x") == []


def test_siblings_are_edits_of_a_user_message_and_regenerations_of_one_models_answer():
    tree = Tree([*EDITED, answer("b1", "u1", model="b")])
    assert ids(tree.siblings(tree.by_id["u2"])) == ["u2", "u2e"]
    assert ids(tree.siblings(tree.by_id["a1"])) == ["a1", "a1r"]  # b1 is a column, not a branch
    assert ids(tree.siblings(tree.by_id["u1"])) == ["u1"]


def test_the_branch_through_a_message_ends_at_its_newest_descendant():
    tree = Tree(EDITED)
    assert tree.leaf_below("u2") == "a2"
    assert tree.leaf_below("a1") == "a2e"  # u2e's answer is newer than u2's
    assert tree.leaf_below("a1r") == "a1r"
    assert tree.leaf_below("nope") == "a1r"


def test_a_model_sees_only_its_branch():
    tree = Tree(EDITED)
    # An edit of u2 follows a1: the conversation is u1 and a1, never u2 or its answer.
    assert tree.conversation("a1", "a") == [
        {"role": "user", "content": "u1"},
        {"role": "assistant", "content": "a1"},
    ]
    assert [t["content"] for t in tree.conversation("a2e", "a")] == ["u1", "a1", "edited", "a2e"]
    assert tree.conversation(None, "a") == []


def test_in_a_comparison_each_model_sees_its_own_answers():
    msgs = [
        user("u1"),
        answer("a1", "u1", "a"),
        answer("b1", "u1", "b"),
        answer("b1r", "u1", "b", status="cancelled"),
        user("u2", "a1"),
    ]
    tree = Tree(msgs)
    assert [t["content"] for t in tree.conversation("u2", "a")] == ["u1", "a1", "u2"]
    # b's newest *finished* answer to u1 stands in for the path's (a's) answer.
    assert [t["content"] for t in tree.conversation("u2", "b")] == ["u1", "b1", "u2"]
    # A model that did not answer u1 sees the user's turns only.
    assert [t["content"] for t in tree.conversation("u2", "c")] == ["u1", "u2"]


def test_an_unfinished_answer_on_the_path_is_not_sent():
    tree = Tree([user("u1"), answer("a1", "u1", status="cancelled"), user("u2", "a1")])
    assert [t["content"] for t in tree.conversation("u2", "a")] == ["u1", "u2"]


def test_the_shown_branch_adds_the_other_columns_newest_answers():
    msgs = [
        user("u1"),
        answer("a1", "u1", "a"),
        answer("b1", "u1", "b"),
        answer("b1r", "u1", "b", status="failed"),
        user("u2", "a1"),
        answer("a2", "u2", "a"),
        answer("a1r", "u1", "a"),
    ]
    tree = Tree(msgs)
    assert ids(tree.branch("a2")) == ["u1", "a1", "b1r", "u2", "a2"]
    assert ids(tree.branch("a1r")) == ["u1", "b1r", "a1r"]


def test_where_a_regenerate_leaves_the_shown_branch():
    msgs = [user("u1"), answer("a1", "u1", "a"), answer("b1", "u1", "b"), user("u2", "a1")]
    tree = Tree([*msgs, answer("a2", "u2", "a")])
    # The path's own model: the new answer is shown (later turns stay on the old branch).
    assert tree.leaf_after_regenerate("a2", "u1", "a", "new") == "new"
    assert tree.leaf_after_regenerate("a2", "u2", "a", "new") == "new"
    # Another column of the comparison: the branch stays.
    assert tree.leaf_after_regenerate("a2", "u1", "b", "new") == "a2"


def test_a_conversation_from_before_the_tree_is_one_branch():
    msgs = [
        user("u1"),
        answer("a1", "u1"),
        answer("a1r", "u1"),  # regenerated before u2 was sent
        user("u2"),
        answer("a2", "u2"),
        user("u3"),  # its answers all failed to be stored
        user("u4"),
    ]
    parents = legacy_parents(msgs)
    assert parents == {"u2": "a1r", "u3": "a2", "u4": "u3"}
    for m in msgs:
        m.parentId = m.parentId or parents.get(m.id)
    assert ids(Tree(msgs).path("u4")) == ["u1", "a1r", "u2", "a2", "u3", "u4"]
