"""`GET /api/admin/moderation/messages/<id>/context`: a flagged message with its neighbours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bson import ObjectId

from common.conversations.models import ChatMessage
from tests.support.http import auth
from tests.support.seed import make_message, make_session


def test_a_message_in_context_of_its_own_session(client, admin, make_user):
    user, token = make_user()
    session = make_session(user["id"], title="the chat")
    other = make_session(user["id"], title="another chat")
    start = datetime(2026, 5, 1, 12, tzinfo=UTC)
    msgs = []
    for i in range(7):
        role = "user" if i % 2 == 0 else "assistant"
        at = start + timedelta(minutes=i)
        msgs.append(make_message(session, f"line {i} " + "x" * 400, role=role, createdAt=at))
        make_message(other, f"elsewhere {i}", createdAt=at)
    # One neighbour's date stored as text (nx-27017 keeps a `$set` date so): still in order.
    ChatMessage._get_collection().update_one(
        {"_id": msgs[4].id}, {"$set": {"createdAt": (start + timedelta(minutes=4)).isoformat()}}
    )
    flagged = msgs[3]
    url = f"/api/admin/moderation/messages/{flagged.id}/context"
    client.post(
        f"/api/chat/messages/{flagged.id}/report", json={"reason": "rude"}, headers=auth(token)
    )

    res = client.get(f"{url}?around=2", headers=admin[1])
    assert res.status_code == 200, res.get_json()
    data = res.get_json()["data"]
    assert data["message"]["id"] == str(flagged.id)
    assert data["message"]["moderation"]["flagged"] is True
    assert data["session"] == {"id": session.sessionId, "title": "the chat", "messageCount": 7}
    assert [m["id"] for m in data["before"]] == [str(msgs[1].id), str(msgs[2].id)]
    assert [m["id"] for m in data["after"]] == [str(msgs[4].id), str(msgs[5].id)]
    assert data["before"][0]["content"] == "line 1 " + "x" * 400  # whole, not a preview
    assert [m["role"] for m in data["before"] + data["after"]] == [
        "assistant",
        "user",
        "user",
        "assistant",
    ]

    # The first message has nothing before it; the default is 3 either side.
    first = client.get(f"/api/admin/moderation/messages/{msgs[0].id}/context", headers=admin[1])
    assert first.get_json()["data"]["before"] == []
    assert len(first.get_json()["data"]["after"]) == 3
    alone = client.get(f"{url}?around=0", headers=admin[1]).get_json()["data"]
    assert (alone["before"], alone["after"]) == ([], [])

    for bad in ("around=-1", "around=21", "around=many"):
        res = client.get(f"{url}?{bad}", headers=admin[1])
        assert res.status_code == 400 and res.get_json()["code"] == "VALIDATION_ERROR", bad
    missing = f"/api/admin/moderation/messages/{ObjectId()}/context"
    assert client.get(missing, headers=admin[1]).status_code == 404
    assert (
        client.get("/api/admin/moderation/messages/nope/context", headers=admin[1]).status_code
        == 404
    )
    assert client.get(url, headers=auth(token)).status_code == 403
    assert client.get(url).status_code == 401
