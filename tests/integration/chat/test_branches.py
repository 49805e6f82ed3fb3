"""Conversation trees over the real stack (gunicorn, a Celery worker, nx-27017, the fake
provider): an edit is a new branch that sends and charges only its own history; the session
remembers the branch it shows; the API reads a branch; conversations from before the tree are
one branch."""

from __future__ import annotations

from bson import ObjectId

from common.conversations.models import ChatMessage, ChatSession
from common.wallet.reconcile import reconcile
from tests.support.chatkit import FREE, FREE2


def _say(fake, text: str, model: str = FREE) -> None:
    fake.scenario(model, deltas=[text], interval=0.0)


def _ask(api, fake, text: str, answer: str, **body) -> dict:
    _say(fake, answer)
    res = api.post("/api/chat", {"message": text, "modelId": FREE, "wait": True, **body})
    assert res.status_code == 200, res.json()
    return res.json()["data"]


def _sent(fake) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in fake.stats()["last_requests"][-1]["messages"]]


def _messages(api, sid: str, **query) -> list[dict]:
    return api.get(f"/api/chat/sessions/{sid}", **query).json()["data"]["messages"]


def test_an_edit_is_a_sibling_branch_that_sends_and_charges_only_its_history(live, fake, api):
    first = _ask(api, fake, "Name a pasta", "Penne " * 40)
    sid = first["session"]["sessionId"]
    a1 = first["message"]["id"]
    second = _ask(api, fake, "A longer question about sauces " * 5, "Tomato " * 60, sessionId=sid)
    u2 = second["message"]["parentId"]
    # A plain continuation follows the shown leaf: the second answer.
    assert second["session"]["currentLeafId"] == second["message"]["id"]
    # Edit the second question: the new user message is its sibling (same parent, a1).
    edited = _ask(api, fake, "Short?", "Yes", sessionId=sid, editOf=u2)
    sent = _sent(fake)
    assert [c for _, c in sent] == ["Name a pasta", sent[1][1], "Short?"]
    assert "sauces" not in str(sent)
    receipt = edited["receipt"]
    # Charged for the branch's prompt only: the fake counts characters / 4 of what it got.
    chars = len(" ".join(c for _, c in sent))
    assert receipt["promptTokens"] == max(1, chars // 4)
    messages = _messages(api, sid)
    by_id = {m["id"]: m for m in messages}
    new_user = by_id[edited["message"]["parentId"]]
    assert new_user["parentId"] == a1 == by_id[u2]["parentId"]
    assert edited["session"]["currentLeafId"] == edited["message"]["id"]
    # The API reads the branch shown, or the branch through any message.
    shown = _messages(api, sid, branch="current")
    assert [m["content"] for m in shown if m["role"] == "user"] == ["Name a pasta", "Short?"]
    old = _messages(api, sid, leafId=u2)
    assert [m["id"] for m in old][-2:] == [u2, second["message"]["id"]]
    assert reconcile() == []


def test_the_session_remembers_the_branch_and_the_next_turn_follows_it(live, fake, api):
    first = _ask(api, fake, "One", "uno")
    sid = first["session"]["sessionId"]
    second = _ask(api, fake, "Two", "dos", sessionId=sid)
    u2 = second["message"]["parentId"]
    _ask(api, fake, "Two, edited", "deux", sessionId=sid, editOf=u2)
    # Switch back to the first branch: stored on the session (every device shows it).
    res = api.patch(f"/api/chat/sessions/{sid}", {"currentLeafId": u2})
    assert res.status_code == 200, res.json()
    assert res.json()["data"]["session"]["currentLeafId"] == second["message"]["id"]
    _ask(api, fake, "Three", "tres", sessionId=sid)
    assert [c for _, c in _sent(fake)] == ["One", "uno", "Two", "dos", "Three"]
    # `afterId` names the leaf explicitly (a client showing another branch).
    _ask(api, fake, "Drei", "drei", sessionId=sid, afterId=first["message"]["id"])
    assert [c for _, c in _sent(fake)] == ["One", "uno", "Drei"]


def test_branch_arguments_are_checked(live, fake, api, make_user):
    first = _ask(api, fake, "Mine", "ok")
    sid = first["session"]["sessionId"]
    answer = first["message"]["id"]
    cases = [
        ({"message": "x", "modelId": FREE, "sessionId": sid, "editOf": answer}, 404),  # not user
        ({"message": "x", "modelId": FREE, "sessionId": sid, "afterId": str(ObjectId())}, 404),
        ({"message": "x", "modelId": FREE, "sessionId": sid, "afterId": "junk"}, 404),
        ({"message": "x", "modelId": FREE, "editOf": first["message"]["parentId"]}, 400),
        (
            {
                "modelId": FREE,
                "sessionId": sid,
                "parentId": first["message"]["parentId"],
                "afterId": answer,
            },
            400,
        ),
    ]
    for body, status in cases:
        res = api.post("/api/chat", body)
        assert res.status_code == status, (body, res.json())
    for patch, status in (({"currentLeafId": str(ObjectId())}, 404), ({"currentLeafId": ""}, 400)):
        res = api.patch(f"/api/chat/sessions/{sid}", patch)
        assert res.status_code == status, (patch, res.json())
    assert api.get(f"/api/chat/sessions/{sid}", branch="sideways").status_code == 400
    assert ChatMessage.objects(sessionId=sid).count() == 2


def test_a_conversation_from_before_the_tree_is_one_branch(live, fake, api):
    first = _ask(api, fake, "Old one", "old answer")
    sid = first["session"]["sessionId"]
    _ask(api, fake, "Old two", "second answer", sessionId=sid)
    # Make it look as stored before the tree: no parent on user messages, no leaf.
    ChatMessage._get_collection().update_many(
        {"sessionId": sid, "role": "user"}, {"$unset": {"parentId": ""}}
    )
    ChatSession._get_collection().update_one({"sessionId": sid}, {"$unset": {"currentLeafId": ""}})
    messages = _messages(api, sid)
    assert [m["parentId"] for m in messages] == [
        None,
        messages[0]["id"],
        messages[1]["id"],
        messages[2]["id"],
    ]
    _ask(api, fake, "Three", "tres", sessionId=sid)
    assert [c for _, c in _sent(fake)] == [
        "Old one",
        "old answer",
        "Old two",
        "second answer",
        "Three",
    ]


def test_a_compare_turn_continues_per_model_and_a_column_regenerate_keeps_the_branch(
    live, fake, ws
):
    _say(fake, "from a")
    _say(fake, "from b", FREE2)
    ws.send(type="chat.send", requestId="t1", message="Both?", models=[FREE, FREE2])
    accepted = ws.until(lambda f: f["type"] == "accepted")
    assert accepted["parentId"] is None
    first_ids = [m["messageId"] for m in accepted["messages"]]
    assert accepted["leafId"] == first_ids[0]
    ws.finals(first_ids)
    sid, u1 = accepted["sessionId"], accepted["userMessageId"]
    _say(fake, "b again", FREE2)
    ws.send(type="chat.send", requestId="t2", sessionId=sid, parentId=u1, models=[FREE2])
    again = ws.until(lambda f: f["type"] == "accepted" and f["requestId"] == "t2")
    ws.finals([m["messageId"] for m in again["messages"]])
    assert again["leafId"] == first_ids[0]  # a column of the comparison: the branch stays
    _say(fake, "a2")
    _say(fake, "b2", FREE2)
    ws.send(type="chat.send", requestId="t3", sessionId=sid, message="Next", models=[FREE, FREE2])
    third = ws.until(lambda f: f["type"] == "accepted" and f["requestId"] == "t3")
    assert third["parentId"] == first_ids[0]
    ws.finals([m["messageId"] for m in third["messages"]])
    by_model = {
        r["model"]: [m["content"] for m in r["messages"]]
        for r in fake.stats()["last_requests"][-2:]
    }
    assert by_model[FREE] == ["Both?", "from a", "Next"]
    assert by_model[FREE2] == ["Both?", "b again", "Next"]
