"""Conversation search (titles and message text, owner-only, paginated), pins and limits, through
the Flask app on nx-27017 — on its `$regex` path and on the MongoDB path (`$text`)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from bson import ObjectId

from common import db
from common.conversations.models import ChatMessage, ChatSession, Moderation
from common.sending.validation import MAX_MODELS
from common.stored import utcnow


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _session(user_id: str, title: str, age_minutes: int, *texts: str) -> str:
    sid = f"chat_{ObjectId()}"
    at = utcnow() - timedelta(minutes=age_minutes)
    ChatSession(sessionId=sid, userId=ObjectId(user_id), title=title, lastMessageAt=at).save()
    for text in texts:
        ChatMessage(sessionId=sid, userId=ObjectId(user_id), role="user", content=text).save()
    return sid


@pytest.fixture(params=["embedded", "mongodb"])
def server_kind(request, monkeypatch):
    """Run each search test on the `$regex` path and on the `$text` path (nx-27017 answers
    `$text` too, by substring, once the text index exists, so the MongoDB query shape is
    exercised here for real)."""
    monkeypatch.setattr(db, "is_embedded", lambda: request.param == "embedded")
    return request.param


def test_search_finds_titles_and_message_text_of_the_owner_only(client, make_user, server_kind):
    me, token = make_user()
    other, _ = make_user()
    by_text = _session(me["id"], "Trip ideas", 5, "What about the Quantum (physics) book?")
    by_title = _session(me["id"], "Quantum (physics) notes", 1, "nothing here")
    _session(me["id"], "Cooking", 3, "pasta al dente")
    _session(other["id"], "Quantum (physics) too", 0, "Quantum (physics) everywhere")

    res = client.get("/api/chat/search?q=quantum (physics)", headers=_auth(token))
    body = res.get_json()
    assert res.status_code == 200, body
    hits = body["data"]["results"]
    assert [h["session"]["sessionId"] for h in hits] == [by_title, by_text]  # newest first
    assert hits[1]["messageId"] and "Quantum (physics) book" in hits[1]["snippet"]
    assert hits[0]["messageId"] is None and hits[0]["snippet"] == "Quantum (physics) notes"
    assert body["pagination"] == {"page": 1, "limit": 20, "total": 2, "totalPages": 1}


def test_search_paginates_and_escapes_regex_characters(client, make_user, server_kind):
    me, token = make_user()
    for i in range(5):
        _session(me["id"], f"chat {i}", i, f"price is $5.00 (item {i})")
    _session(me["id"], "decoy", 0, "price is 5500 item")
    page2 = client.get("/api/chat/search?q=$5.00&page=2&limit=2", headers=_auth(token)).get_json()
    assert page2["pagination"] == {"page": 2, "limit": 2, "total": 5, "totalPages": 3}
    assert [h["session"]["title"] for h in page2["data"]["results"]] == ["chat 2", "chat 3"]


def test_search_skips_hidden_messages_and_refuses_bad_queries(client, make_user):
    me, token = make_user()
    sid = _session(me["id"], "plain", 0)
    ChatMessage(
        sessionId=sid,
        userId=ObjectId(me["id"]),
        role="user",
        content="secret words",
        moderation=Moderation(hidden=True),
    ).save()
    found = client.get("/api/chat/search?q=secret", headers=_auth(token)).get_json()
    assert found["data"]["results"] == []
    for bad in ("", "?q=", "?q=x&limit=0", "?q=" + "x" * 201):
        res = client.get("/api/chat/search" + bad, headers=_auth(token))
        assert res.status_code == 400 and res.get_json()["code"] == "VALIDATION_ERROR", bad
    assert client.get("/api/chat/search?q=x").status_code == 401


def test_pinned_sessions_list_first_and_unpin(client, make_user):
    me, token = make_user()
    old = _session(me["id"], "old", 60)
    new = _session(me["id"], "new", 1)
    res = client.patch(f"/api/chat/sessions/{old}", json={"pinned": True}, headers=_auth(token))
    assert res.status_code == 200 and res.get_json()["data"]["session"]["pinned"] is True
    listed = client.get("/api/chat/sessions", headers=_auth(token)).get_json()["data"]["sessions"]
    assert [s["sessionId"] for s in listed] == [old, new]
    both = {"pinned": False, "title": "renamed"}
    res = client.patch(f"/api/chat/sessions/{old}", json=both, headers=_auth(token))
    session = res.get_json()["data"]["session"]
    assert session["pinned"] is False and session["title"] == "renamed"
    listed = client.get("/api/chat/sessions", headers=_auth(token)).get_json()["data"]["sessions"]
    assert [s["sessionId"] for s in listed] == [new, old]
    for bad in ({}, {"pinned": "yes"}, {"title": ""}):
        res = client.patch(f"/api/chat/sessions/{old}", json=bad, headers=_auth(token))
        assert res.status_code == 400, bad


def test_limits_are_the_servers(app, client, make_user, settings):
    _, token = make_user()
    limits = client.get("/api/chat/limits", headers=_auth(token)).get_json()["data"]["limits"]
    has_estimate = any(r.rule == "/api/chat/estimate" for r in app.url_map.iter_rules())
    assert limits == {
        "maxModels": MAX_MODELS,
        "maxTokensPerRequest": settings.max_tokens_per_request,
        "maxMessageChars": settings.max_message_chars,
        "estimate": has_estimate,
    }


def test_embedded_server_is_detected():
    assert db.is_embedded() is True


def test_a_conversation_address_serves_the_client(client):
    res = client.get("/c/chat_123_abcd")
    assert res.status_code == 200 and b'id="app"' in res.data
