"""Reports, flags, the flagged list, hiding, removing and banning — each with its audit record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bson import ObjectId

from common.audit.models import AuditLog
from common.conversations.models import ChatMessage, ChatSession
from common.engine import ending
from common.engine.outcomes import Outcome
from common.moderation.service import flag_from_provider
from common.stored import as_utc
from common.wallet import service as wallet
from tests.support.http import auth
from tests.support.seed import make_message, make_session


def _flagged(client, headers, query=""):
    res = client.get(f"/api/admin/moderation/flagged?{query}", headers=headers)
    assert res.status_code == 200, res.get_json()
    return res.get_json()["data"]


def test_user_reports_a_message_in_their_own_chat(client, admin, make_user):
    user, token = make_user()
    other, other_token = make_user()
    msg = make_message(make_session(user["id"]), "something nasty")
    url = f"/api/chat/messages/{msg.id}/report"

    res = client.post(url, json={"reason": "offensive"}, headers=auth(token))
    assert res.status_code == 201, res.get_json()
    assert res.get_json()["data"] == {
        "messageId": str(msg.id),
        "flagged": True,
        "alreadyReported": False,
    }
    again = client.post(url, json={"reason": "still"}, headers=auth(token))
    assert again.status_code == 200 and again.get_json()["data"]["alreadyReported"] is True

    stored = ChatMessage.objects(id=msg.id).first().moderation
    assert (stored.flagged, stored.source, stored.reason) == (True, "user", "offensive")
    assert str(stored.flaggedBy) == user["id"] and stored.flaggedAt is not None

    assert client.post(url, json={}, headers=auth(other_token)).status_code == 404
    assert (
        client.post(f"/api/chat/messages/{ObjectId()}/report", headers=auth(token)).status_code
        == 404
    )
    assert client.post("/api/chat/messages/nope/report", headers=auth(token)).status_code == 404
    assert client.post(url).status_code == 401
    bad = client.post(url, json={"reason": "x" * 501}, headers=auth(token))
    assert bad.status_code == 400

    [item] = _flagged(client, admin[1])["items"]
    assert item["id"] == str(msg.id) and item["type"] == "message"
    assert item["content"] == "something nasty" and item["moderation"]["source"] == "user"


def test_provider_refusal_shows_in_the_flagged_list(client, admin, make_user):
    user, _ = make_user()
    msg = make_message(
        make_session(user["id"]),
        "",
        status="failed",
        modelId="m/x",
        error={"code": "PROVIDER_ERROR", "message": "refused", "reason": "moderation"},
    )
    flag_from_provider(msg.id, "flagged: violence")
    # Flags stored before settlement went through `flag_from_provider` were dotted `$set`s (a
    # date there is stored as text on nx-27017); the list reads both.
    other = make_message(make_session(user["id"]), "", status="failed")
    ChatMessage._get_collection().update_one(
        {"_id": other.id},
        {
            "$set": {
                "moderation.flagged": True,
                "moderation.source": "provider",
                "moderation.reason": "self-harm",
                "moderation.flaggedAt": datetime.now(UTC) + timedelta(minutes=1),
            }
        },
    )
    data = _flagged(client, admin[1], "source=provider")
    assert [i["id"] for i in data["items"]] == [str(other.id), str(msg.id)]  # newest first
    assert {i["userEmail"] for i in data["items"]} == {user["email"]}  # who, in words
    assert data["items"][0]["moderation"]["flaggedAt"]
    item = data["items"][1]
    assert (
        item["moderation"]["source"] == "provider"
        and item["moderation"]["reason"] == "flagged: violence"
    )
    assert item["error"]["reason"] == "moderation"
    assert _flagged(client, admin[1], "source=user")["items"] == []


def test_admin_flags_hides_dismisses_and_lists(client, admin, make_user):
    me, headers = admin
    user, _ = make_user()
    session = make_session(user["id"], title="Heated")
    msg = make_message(session, "rude words")

    res = client.post(
        f"/api/admin/moderation/messages/{msg.id}/flag", json={"reason": "rude"}, headers=headers
    )
    assert res.status_code == 200
    assert res.get_json()["data"]["item"]["moderation"]["flaggedBy"] == me["id"]
    res = client.post(f"/api/admin/moderation/sessions/{session.sessionId}/flag", headers=headers)
    assert res.status_code == 200

    data = _flagged(client, headers)
    assert [(i["type"], i["id"]) for i in data["items"]] == [
        ("session", session.sessionId),
        ("message", str(msg.id)),
    ]
    assert data["pagination"]["total"] == 2
    assert [i["type"] for i in _flagged(client, headers, "type=message")["items"]] == ["message"]
    page2 = _flagged(client, headers, "limit=1&page=2")
    assert [i["id"] for i in page2["items"]] == [str(msg.id)] and page2["pagination"]["pages"] == 2

    hidden = client.post(f"/api/admin/moderation/messages/{msg.id}/hide", headers=headers)
    assert hidden.get_json()["data"]["item"]["moderation"]["hidden"] is True
    dismissed = client.post(
        f"/api/admin/moderation/sessions/{session.sessionId}/dismiss", headers=headers
    )
    assert dismissed.get_json()["data"]["item"]["moderation"]["flagged"] is False
    assert [i["type"] for i in _flagged(client, headers)["items"]] == ["message"]
    assert {i["type"] for i in _flagged(client, headers, "status=reviewed")["items"]} == {
        "message",
        "session",
    }

    actions = [e.action for e in AuditLog.objects.order_by("createdAt")]
    assert actions == ["message.flag", "session.flag", "message.hide", "session.dismiss"]
    hide_log = AuditLog.objects(action="message.hide").first()
    assert hide_log.before["hidden"] is False and hide_log.after["hidden"] is True
    assert hide_log.targetId == str(msg.id) and hide_log.adminEmail == me["email"]


def test_remove_blanks_content_and_keeps_the_record(client, admin, make_user):
    _, headers = admin
    user, _ = make_user()
    session = make_session(user["id"])
    one = make_message(session, "first bad", role="user")
    two = make_message(session, "second bad", charged=42)
    lone = make_message(make_session(user["id"]), "single bad")

    res = client.delete(f"/api/admin/moderation/messages/{lone.id}", headers=headers)
    assert res.status_code == 200
    stored = ChatMessage.objects(id=lone.id).first()
    assert stored.content == "" and stored.moderation.removed and stored.moderation.hidden
    log = AuditLog.objects(action="message.remove").first()
    assert log.before["content"] == "single bad" and log.after["removed"] is True

    res = client.delete(f"/api/admin/moderation/sessions/{session.sessionId}", headers=headers)
    assert res.status_code == 200
    for m in (one, two):
        m.reload()
        assert m.content == "" and m.moderation.removed
    assert two.charged == 42  # accounting untouched
    assert ChatSession.objects(sessionId=session.sessionId).first().moderation.removed
    assert AuditLog.objects(action="session.remove").first().before["messagesRemoved"] == 2


def test_unknown_items_are_404_and_change_nothing(client, admin):
    headers = admin[1]
    for url in (
        f"/api/admin/moderation/messages/{ObjectId()}/flag",
        "/api/admin/moderation/messages/not-an-id/hide",
        "/api/admin/moderation/sessions/chat_missing/dismiss",
    ):
        res = client.post(url, json={}, headers=headers)
        assert res.status_code == 404 and res.get_json()["code"] == "NOT_FOUND"
    assert client.delete("/api/admin/moderation/sessions/nope", headers=headers).status_code == 404
    assert (
        client.get("/api/admin/moderation/flagged?status=closed", headers=headers).status_code
        == 400
    )
    assert AuditLog.objects.count() == 0


def test_ban_cuts_off_the_user_with_a_reason(client, admin, make_user):
    me, headers = admin
    user, token = make_user()
    assert (
        client.post(f"/api/admin/users/{user['id']}/ban", json={}, headers=headers).status_code
        == 400
    )
    res = client.post(
        f"/api/admin/users/{user['id']}/ban", json={"reason": "abuse"}, headers=headers
    )
    data = res.get_json()["data"]["user"]
    assert (
        res.status_code == 200
        and data["isActive"] is False
        and data["deactivatedReason"] == "abuse"
    )
    assert client.get("/api/auth/me", headers=auth(token)).status_code == 401
    [log] = AuditLog.objects(action="user.ban")
    assert (
        log.targetId == user["id"]
        and log.adminId == me["id"]
        and log.after["deactivatedReason"] == "abuse"
    )


def test_settlement_records_a_provider_refusal_through_moderation(client, admin, make_user):
    user, _ = make_user()
    msg = make_message(make_session(user["id"]), "", status="pending", modelId="m/x")
    wallet.reserve(user["id"], 100, str(msg.id))
    refused = Outcome("failed", error={"code": "PROVIDER_ERROR"}, moderation_reason="violence")
    assert ending.end(msg, refused, {"status": "pending"}) is not None
    [item] = _flagged(client, admin[1], "source=provider")["items"]
    assert (item["id"], item["moderation"]["reason"]) == (str(msg.id), "violence")
    assert wallet.get_hold(user["id"], str(msg.id)) is None  # released in the same settlement


def test_a_blocked_term_is_refused_with_the_term_and_reaches_the_queue(
    client, admin, make_user, openrouter, settings_override
):
    settings_override(blocked_terms=("forbidden thing",), openrouter_base_url=openrouter.base_url)
    _, headers = admin
    user, token = make_user()
    body = {"message": "Tell me a Forbidden  Thing please", "modelId": "fake/echo"}
    res = client.post("/api/chat", json=body, headers=auth(token))
    assert res.status_code == 400, res.get_json()
    assert res.get_json()["code"] == "CONTENT_BLOCKED"
    assert res.get_json()["details"]["term"] == "Forbidden  Thing"
    assert ChatMessage.objects.count() == 0 and ChatSession.objects.count() == 0
    (item,) = _flagged(client, headers, "type=attempt")["items"]
    assert item["type"] == "attempt" and item["userId"] == user["id"]
    assert item["term"] == "Forbidden  Thing" and item["via"] == "chat"
    assert item["content"] == body["message"]
    assert item["moderation"]["source"] == "blocked_term"
    assert "Forbidden  Thing" in item["moderation"]["reason"]
    assert _flagged(client, headers, "source=blocked_term")["items"][0]["id"] == item["id"]
    url = f"/api/admin/moderation/attempts/{item['id']}"
    assert client.delete(url, headers=headers).status_code == 200
    (after,) = _flagged(client, headers, "status=reviewed")["items"]
    assert after["content"] == "" and after["moderation"]["removed"] is True
    assert AuditLog.objects(action="attempt.remove").count() == 1


def test_tries_of_one_term_by_one_user_count_on_one_open_item(
    client, admin, make_user, openrouter, settings_override
):
    """A user hammering a blocked term fills no queue: while the first attempt is open the
    others count on it; after an admin acted on it the next try opens a new item."""
    settings_override(blocked_terms=("forbidden thing",), openrouter_base_url=openrouter.base_url)
    _, headers = admin
    user, token = make_user()
    other, other_token = make_user()

    def attempt(text: str, who: str = token) -> None:
        body = {"message": text, "modelId": "fake/echo"}
        res = client.post("/api/chat", json=body, headers=auth(who))
        assert res.get_json()["code"] == "CONTENT_BLOCKED"

    for text in ("a forbidden thing", "A FORBIDDEN   THING again", "forbidden thing 3"):
        attempt(text)
    attempt("my forbidden thing", other_token)  # another user: an item of their own
    items = _flagged(client, headers, "type=attempt")["items"]
    mine = next(i for i in items if i["userId"] == user["id"])
    assert len(items) == 2 and mine["attempts"] == 3 and mine["content"] == "a forbidden thing"
    first, last = (as_utc(mine[f]) for f in ("createdAt", "lastAttemptAt"))
    assert last >= first
    assert next(i for i in items if i["userId"] == other["id"])["attempts"] == 1
    url = f"/api/admin/moderation/attempts/{mine['id']}/dismiss"
    assert client.post(url, headers=headers).status_code == 200
    attempt("forbidden thing once more")
    (fresh,) = [
        i for i in _flagged(client, headers, "type=attempt")["items"] if i["userId"] == user["id"]
    ]
    assert fresh["id"] != mine["id"] and fresh["attempts"] == 1
