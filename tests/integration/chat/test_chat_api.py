"""`/api/chat` over HTTP and `/ws` auth, against the running stack (see test_chat_stream)."""

from __future__ import annotations

import json
import socket
import time

import pytest
import websocket
from bson import ObjectId

from common.conversations.models import ChatMessage, ChatSession
from common.errors import AppError
from common.redis_client import get_redis
from common.sending.command import SendCommand
from common.sending.daily import daily_key
from common.sending.send import PROMPT_INLINE_BYTES, send
from common.streaming import channel
from common.users.models import User
from common.wallet.reconcile import reconcile
from tests.support.chatkit import FREE, PAID, Api, set_balance, tokens_of
from tests.support.services import wait_for
from tests.support.wsclient import WsClient
from web.ws import USER_REUSE_SECONDS


def _nothing_changed(uid: str) -> None:
    assert ChatMessage.objects.count() == 0 and ChatSession.objects.count() == 0
    t = tokens_of(uid)
    assert t["holds"] == {} and t["reserved"] == 0


def _error(res, status: int, code: str) -> dict:
    body = res.json()
    assert res.status_code == status and body["status"] == "error" and body["code"] == code, body
    assert body["user"]["id"] and "tokens" in body["user"]
    return body


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"message": "   ", "modelId": FREE}, 400, "VALIDATION_ERROR"),
        ({"message": "hi"}, 400, "VALIDATION_ERROR"),
        ({"message": "hi", "modelId": "nope/unknown"}, 404, "NOT_FOUND"),
        (
            {"message": "hi", "modelId": FREE, "options": {"maxTokens": 4001}},
            400,
            "VALIDATION_ERROR",
        ),
        ({"message": {"$ne": None}, "modelId": FREE}, 400, "VALIDATION_ERROR"),
        ({"message": "x" * 32_001, "modelId": FREE}, 413, "PAYLOAD_TOO_LARGE"),
        ({"message": "hi", "modelId": PAID}, 403, "PAYWALL"),
    ],
)
def test_bad_sends_are_refused_with_the_user_snapshot_and_change_nothing(
    api, user, body, status, code
):
    err = _error(api.post("/api/chat", body), status, code)
    if code == "PAYWALL":
        assert err["details"]["requiredPlan"] == "pro"
    _nothing_changed(user[0]["id"])


def test_paid_model_is_open_on_the_pro_plan(live, fake, api, user):
    User.objects(id=user[0]["id"]).update_one(set__subscription__plan="pro")
    fake.scenario(PAID, deltas=["paid ", "answer"])
    res = api.post("/api/chat", {"message": "hi", "modelId": PAID, "wait": True})
    assert res.status_code == 200, res.json()
    assert res.json()["data"]["message"]["content"] == "paid answer"


def test_daily_limit_counts_requests_per_plan(live, fake, api, user):
    User.objects(id=user[0]["id"]).update_one(set__subscription__limits__requestsPerDay=2)
    fake.scenario(FREE, deltas=["ok"])
    for _ in range(2):
        assert api.post("/api/chat", {"message": "hi", "modelId": FREE}).status_code == 202
    err = _error(api.post("/api/chat", {"message": "hi", "modelId": FREE}), 429, "DAILY_LIMIT")
    assert err["details"]["limit"] == 2


def test_balance_below_the_estimate_is_402_with_details(live, api, user):
    set_balance(user[0]["id"], 100)
    err = _error(
        api.post("/api/chat", {"message": "hi", "modelId": FREE}), 402, "INSUFFICIENT_TOKENS"
    )
    assert err["details"]["available"] == 100 and err["details"]["required"] > 100
    assert err["details"]["suggestion"]
    assert ChatMessage.objects.count() == 0 and tokens_of(user[0]["id"])["holds"] == {}


def test_send_202_then_wait_true_and_history_reaches_the_provider(live, fake, api, user):
    fake.scenario(
        FREE,
        deltas=["first ", "answer"],
        usage={"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9},
    )
    res = api.post("/api/chat", {"message": "Tell me about pasta", "modelId": FREE})
    assert res.status_code == 202
    data = res.json()["data"]
    assert data["messages"] == [
        {"id": data["messages"][0]["id"], "modelId": FREE, "status": "pending"}
    ]
    assert (
        data["user"]["tokens"]["reserved"] > 0 and data["session"]["title"] == "Tell me about pasta"
    )
    sid = data["session"]["sessionId"]
    first = data["messages"][0]["id"]
    wait_for(lambda: channel.has_final(first), 30, 0.05, "the first answer to end")
    res = api.post(
        "/api/chat", {"message": "And more?", "modelId": FREE, "sessionId": sid, "wait": True}
    )
    assert res.status_code == 200, res.json()
    data = res.json()["data"]
    assert data["message"]["role"] == "assistant" and data["message"]["content"] == "first answer"
    assert data["usage"] == {"promptTokens": 7, "completionTokens": 2, "totalTokens": 9}
    assert data["user"]["tokens"]["reserved"] == 0
    sent = fake.stats()["last_requests"][-1]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[0]["content"] == "Tell me about pasta" and sent[1]["content"] == "first answer"
    assert reconcile() == []


def test_wait_true_on_a_provider_failure_answers_its_error(live, fake, api):
    fake.scenario(FREE, status=402, error="no credits")
    err = _error(
        api.post("/api/chat", {"message": "hi", "modelId": FREE, "wait": True}),
        502,
        "PROVIDER_ERROR",
    )
    assert err["details"]["reason"] == "out_of_credits" and err["user"]["tokens"]["reserved"] == 0


def test_a_client_that_hangs_up_while_waiting_cancels_its_answer(live, fake, user):
    """`"wait": true` writes nothing while the answer runs: the server notices the closed
    connection itself, stops the answer and charges only what was generated."""
    fake.scenario(FREE, deltas=[f"d{i} " for i in range(400)], interval=0.03, usage=False)
    body = json.dumps({"message": "go", "modelId": FREE, "wait": True})
    host, port = live.base_url.removeprefix("http://").split(":")
    conn = socket.create_connection((host, int(port)), timeout=30)
    conn.sendall(
        f"POST /api/chat HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {user[1]}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}".encode()
    )

    def streaming():
        msg = ChatMessage.objects(userId__in=[ObjectId(user[0]["id"])], role="assistant").first()
        live_chunks = msg and msg.status == "streaming" and channel.chunk_count(str(msg.id))
        return msg if live_chunks else None

    mid = str(wait_for(streaming, 30, 0.05, "the answer to start").id)
    conn.close()

    wait_for(lambda: channel.has_final(mid), 30, 0.1, "the answer to be cancelled")
    msg = ChatMessage.objects(id=mid).first()
    assert msg.status == "cancelled" and 0 < msg.lastSeq < 400
    assert 0 < msg.charged < msg.reserved
    assert tokens_of(user[0]["id"])["reserved"] == 0
    assert reconcile() == []


def test_sessions_crud_pagination_stats_and_ownership(live, fake, api, user, make_user):
    fake.scenario(
        FREE, deltas=["hi"], usage={"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    )
    created = api.post("/api/chat/sessions", {"title": "Planning", "modelId": FREE})
    assert created.status_code == 201
    sid = created.json()["data"]["session"]["sessionId"]
    for i in range(3):
        api.post("/api/chat/sessions", {"title": f"s{i}"})
    assert (
        api.post(
            "/api/chat", {"message": "one", "modelId": FREE, "sessionId": sid, "wait": True}
        ).status_code
        == 200
    )
    page = api.get("/api/chat/sessions", page=1, limit=2).json()
    assert page["results"] == 2 and page["pagination"] == {
        "page": 1,
        "limit": 2,
        "total": 4,
        "totalPages": 2,
    }
    assert page["data"]["sessions"][0]["sessionId"] == sid  # most recent activity first
    detail = api.get(f"/api/chat/sessions/{sid}").json()["data"]
    s = detail["session"]
    assert s["title"] == "Planning" and s["messageCount"] == 2 and s["totalTokens"] == 4
    assert s["models"] == [FREE] and s["lastMessageAt"]
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant"]
    mid = detail["messages"][1]["id"]
    assert api.get(f"/api/chat/messages/{mid}").json()["data"]["message"]["status"] == "done"
    other = Api(live, make_user()[1])
    _error(other.get(f"/api/chat/sessions/{sid}"), 404, "NOT_FOUND")
    _error(other.get(f"/api/chat/messages/{mid}"), 404, "NOT_FOUND")
    _error(other.post(f"/api/chat/messages/{mid}/cancel"), 404, "NOT_FOUND")
    _error(other.delete(f"/api/chat/sessions/{sid}"), 404, "NOT_FOUND")
    renamed = api.patch(f"/api/chat/sessions/{sid}", {"title": "Renamed"})
    assert renamed.json()["data"]["session"]["title"] == "Renamed"
    _error(api.patch(f"/api/chat/sessions/{sid}", {"title": ""}), 400, "VALIDATION_ERROR")
    assert api.delete(f"/api/chat/sessions/{sid}").json()["data"]["deletedMessages"] == 2
    _error(api.get(f"/api/chat/sessions/{sid}"), 404, "NOT_FOUND")
    assert ChatMessage.objects(sessionId=sid).count() == 0
    assert User.objects(id=user[0]["id"]).first().usage.totalTokens == 4


def _close_code(client: WsClient) -> int:
    client.ws.settimeout(10)
    opcode, data = client.ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    return int.from_bytes(data[:2], "big")


def test_websocket_auth_ping_and_error_frames(live, user):
    assert _close_code(WsClient(live.ws_url, "not-a-token")) == 4401
    bare = WsClient(live.ws_url)
    bare.send(type="ping")  # anything but auth first closes the socket
    assert _close_code(bare) == 4401
    client = WsClient(live.ws_url)
    client.send(type="auth", token=user[1])
    client.send(type="ping")
    assert client.recv(10) == {"type": "pong"}
    client.send(type="chat.send", requestId="bad", message="", models=[FREE])
    err = client.recv(10)
    assert (
        err["type"] == "error" and err["requestId"] == "bad" and err["code"] == "VALIDATION_ERROR"
    )
    assert err["user"]["id"] == user[0]["id"]
    client.send(type="subscribe", messageId="0" * 24, afterSeq=0)
    assert client.recv(10)["code"] == "NOT_FOUND"
    client.send(type="nonsense")
    assert client.recv(10)["code"] == "VALIDATION_ERROR"
    client.close()


def test_a_socket_whose_user_is_deactivated_is_refused_and_closed(live, user, ws):
    """The socket reuses its user for a few seconds, but the hold itself requires an active
    account: the next send after a deactivation is refused, changes nothing, and ends the socket."""
    ws.send(type="ping")
    assert ws.recv(10) == {"type": "pong"}  # authenticated and cached
    User.objects(id=user[0]["id"]).update_one(set__isActive=False)
    ws.send(type="chat.send", requestId="late", message="still here?", models=[FREE])
    err = ws.recv(10)
    assert (err["type"], err["code"], err["requestId"]) == ("error", "UNAUTHORIZED", "late")
    assert _close_code(ws) == 4401
    assert tokens_of(user[0]["id"])["reserved"] == 0
    assert ChatMessage.objects.count() == 0


def test_hidden_and_removed_content_is_not_served(live, user, api):
    sent = api.post("/api/chat", {"message": "something to hide", "modelId": FREE, "wait": True})
    assert sent.status_code == 200, sent.text
    sid = sent.json()["data"]["session"]["sessionId"]
    mid = sent.json()["data"]["message"]["id"]
    ChatMessage.objects(id=mid).update_one(set__moderation__hidden=True)
    shown = {m["id"]: m for m in api.get(f"/api/chat/sessions/{sid}").json()["data"]["messages"]}
    assert shown[mid]["hidden"] is True
    assert shown[mid]["content"] == "[hidden by a moderator]"
    assert api.get(f"/api/chat/messages/{mid}").json()["data"]["message"]["hidden"] is True
    visible = [m for m in shown.values() if m["id"] != mid]
    assert [m["content"] for m in visible] == ["something to hide"]  # the user's own turn


def test_short_prompts_travel_on_the_message_and_long_ones_are_queried(live, fake, api, user):
    """The worker skips the history query when the send carried the prompt; a conversation too
    large to carry is rebuilt from the history, and the provider sees the same turns."""
    owner = User.objects(id=user[0]["id"]).first()
    queued: list[str] = []
    short = send(
        SendCommand(user=owner, message="short one", models=[FREE]),
        lambda mid, hold=None: queued.append(mid),
    )
    raw = ChatMessage._get_collection().find_one({"_id": short.messages[0].id})
    assert raw["prompt"] == [{"role": "user", "content": "short one"}]
    long_text = "pasta " * (PROMPT_INLINE_BYTES // 6 + 100)
    owner.reload()
    long = send(
        SendCommand(user=owner, message=long_text, models=[FREE]),
        lambda mid, hold=None: queued.append(mid),
    )
    assert "prompt" not in ChatMessage._get_collection().find_one({"_id": long.messages[0].id})

    for mid in queued:  # now let the worker run both
        assert live.celery.send_task("chat.complete", [mid]).get(timeout=30) == "done"
    sent = [r["messages"] for r in fake.stats()["last_requests"][-2:]]
    assert sorted(m[0]["content"] for m in sent) == sorted(["short one", long_text.strip()])
    for mid in queued:  # the carried prompt does not outlive the answer
        assert "prompt" not in ChatMessage._get_collection().find_one({"_id": ObjectId(mid)})
    assert reconcile() == []


def test_a_logged_out_token_stops_its_open_socket(live, user, ws, api):
    """A socket reuses its user for a few seconds; the next re-check sees the logout and the
    socket is told and closed (4401), without charging or storing anything."""
    ws.send(type="ping")
    assert ws.recv(10) == {"type": "pong"}
    assert api.post("/api/auth/logout").status_code == 200
    time.sleep(USER_REUSE_SECONDS + 0.2)
    ws.send(type="chat.send", requestId="after", message="still signed in?", models=[FREE])
    err = ws.recv(10)
    assert (err["type"], err["code"], err["requestId"]) == ("error", "UNAUTHORIZED", "after")
    assert _close_code(ws) == 4401
    assert ChatMessage.objects.count() == 0 and tokens_of(user[0]["id"])["reserved"] == 0


@pytest.mark.parametrize(
    "balance, requests_today, code",
    [
        (10, 0, "INSUFFICIENT_TOKENS"),  # the hold fails; the count and the insert are undone
        (10_000, 50, "DAILY_LIMIT"),  # the count fails; the hold and the insert are undone
        (10, 50, "DAILY_LIMIT"),  # both fail: the daily limit comes first, as documented
    ],
)
def test_concurrent_send_writes_are_undone_on_refusal(live, user, balance, requests_today, code):
    from common.sending.daily import daily_used

    owner = User.objects(id=user[0]["id"]).first()
    set_balance(user[0]["id"], balance)
    owner.reload()
    if requests_today:
        get_redis().set(daily_key(owner), requests_today)
    before = daily_used(owner)
    with pytest.raises(AppError) as refused:
        send(SendCommand(user=owner, message="hello", models=[FREE]), lambda mid, hold=None: None)
    assert refused.value.code == code
    assert ChatMessage.objects.count() == 0 and ChatSession.objects.count() == 0
    t = tokens_of(user[0]["id"])
    assert (t["holds"], t["reserved"], t["balance"]) == ({}, 0, balance)
    assert daily_used(owner) == before
    assert reconcile() == []
