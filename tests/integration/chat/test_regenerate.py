"""Regenerate (`parentId` on a send): a new answer to a stored user message, beside the old one,
over the real stack (gunicorn, a Celery worker, nx-27017, the fake provider)."""

from __future__ import annotations

from bson import ObjectId

from common.conversations.models import ChatMessage, ChatSession
from common.wallet.reconcile import reconcile
from tests.support.chatkit import FREE, Api


def _say(fake, text: str) -> None:
    fake.scenario(FREE, deltas=[text], interval=0.0)


def test_regenerate_answers_the_same_user_message_again_and_keeps_both(live, fake, api):
    _say(fake, "first take")
    first = api.post("/api/chat", {"message": "Name a pasta", "modelId": FREE, "wait": True})
    assert first.status_code == 200, first.json()
    sid = first.json()["data"]["session"]["sessionId"]
    history = api.get(f"/api/chat/sessions/{sid}").json()["data"]["messages"]
    question = history[0]["id"]
    _say(fake, "second take")
    body = {"modelId": FREE, "sessionId": sid, "parentId": question, "wait": True}
    again = api.post("/api/chat", body)
    assert again.status_code == 200, again.json()
    assert again.json()["data"]["message"]["content"] == "second take"
    # The provider saw the conversation up to that question, not the first answer.
    sent = fake.stats()["last_requests"][-1]["messages"]
    assert [(m["role"], m["content"]) for m in sent] == [("user", "Name a pasta")]
    messages = api.get(f"/api/chat/sessions/{sid}").json()["data"]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "assistant"]
    assert {m["parentId"] for m in messages[1:]} == {question}
    assert [m["content"] for m in messages[1:]] == ["first take", "second take"]
    assert ChatSession.objects(sessionId=sid).first().messageCount == 3
    # The next turn carries on from the newest answer only.
    _say(fake, "third")
    nxt = {"message": "Another?", "modelId": FREE, "sessionId": sid, "wait": True}
    assert api.post("/api/chat", nxt).status_code == 200
    sent = fake.stats()["last_requests"][-1]["messages"]
    assert [m["content"] for m in sent] == ["Name a pasta", "second take", "Another?"]
    assert reconcile() == []


def test_regenerate_needs_the_callers_own_user_message_in_that_session(live, fake, api, make_user):
    _say(fake, "hi")
    data = api.post("/api/chat", {"message": "Mine", "modelId": FREE, "wait": True}).json()["data"]
    sid = data["session"]["sessionId"]
    question = str(ChatMessage.objects(sessionId=sid, role="user").first().id)
    answer = data["message"]["id"]
    other = Api(live, make_user()[1])
    cases = [
        (other, {"modelId": FREE, "sessionId": sid, "parentId": question}, 404),
        (api, {"modelId": FREE, "parentId": question}, 400),  # no sessionId
        (api, {"modelId": FREE, "sessionId": sid, "parentId": answer}, 404),  # not a user message
        (api, {"modelId": FREE, "sessionId": sid, "parentId": str(ObjectId())}, 404),
        (api, {"modelId": FREE, "sessionId": sid, "parentId": "junk"}, 404),
    ]
    for client, body, status in cases:
        res = client.post("/api/chat", body)
        assert res.status_code == status, (body, res.json())
    assert ChatMessage.objects(sessionId=sid).count() == 2
