"""A send repeated with its idempotency key (`Idempotency-Key`, the websocket's `requestId`) is
the same send: the first one's ids, one hold, one charge — also after a Redis wipe, from
concurrent requests, and after the first attempt died mid-send. The key rides on the send's
first stored message (`common.sending.idempotency`)."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from bson import ObjectId

from common.conversations.models import ChatMessage, ChatSession
from common.engine import reaper
from common.engine.completion import complete
from common.errors import Conflict
from common.redis_client import get_redis
from common.sending import send as sending
from common.sending.command import SendCommand
from common.sending.send import send
from common.streaming import channel
from common.users.models import User
from common.wallet import service as wallet
from common.wallet.reconcile import reconcile
from config import use_settings
from tests.support.chatkit import FREE, FREE2, set_balance, tokens_of
from tests.support.http import auth
from tests.support.services import wait_for
from tests.support.wsclient import WsClient

BODY = {"message": "say it once", "modelId": FREE, "options": {"maxTokens": 100}}


def _post(live, token: str, key: str | None, body: dict = BODY) -> requests.Response:
    headers = auth(token) | ({"Idempotency-Key": key} if key is not None else {})
    return requests.post(live.base_url + "/api/chat", json=body, headers=headers, timeout=60)


def _ids(res: requests.Response) -> tuple:
    data = res.json()["data"]
    return (
        data["session"]["sessionId"],
        data["userMessage"]["id"],
        tuple(m["id"] for m in data["messages"]),
    )


def _settled(mid: str) -> ChatMessage:
    """The answer is done and its charge applied (the message turns done a moment before)."""
    return wait_for(
        lambda: (
            (m := ChatMessage.objects(id=mid).first())
            and m.status == "done"
            and wallet._ledger().find_one({"key": mid, "applied": True})
            and m
        ),
        60,
        what=f"answer {mid} to be charged",
    )


def _charges(uid: str) -> list[dict]:
    return [e for e in wallet._ledger().find({"kind": "charge"}) if str(e["user"]) == uid]


def test_a_repeat_with_the_key_answers_with_the_first_send(live, fake, user):
    info, token = user
    first = _post(live, token, "key-1")
    assert first.status_code == 202, first.json()
    (mid,) = _ids(first)[2]
    _settled(mid)
    again = _post(live, token, "key-1")
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert _ids(again) == _ids(first)
    assert again.json()["data"]["messages"][0]["status"] == "done"
    assert "Idempotent-Replayed" not in first.headers
    assert ChatMessage.objects(role="assistant").count() == 1
    assert len(_charges(info["id"])) == 1 and fake.stats()["chat_calls"] == 1
    assert tokens_of(info["id"])["reserved"] == 0
    assert reconcile() == []


def test_concurrent_sends_with_one_key_place_one_hold(live, fake, user):
    info, token = user
    fake.scenario(FREE, deltas=["slow ", "enough"], first_delay=0.5)
    before = tokens_of(info["id"])["balance"]
    answers: list[requests.Response] = []
    go = threading.Barrier(6)

    def attempt() -> None:
        go.wait()
        answers.append(_post(live, token, "same-key"))

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [202] * 6, [a.json() for a in answers]
    assert len({_ids(a) for a in answers}) == 1  # every response names the same messages
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 5
    (mid,) = _ids(answers[0])[2]
    held = tokens_of(info["id"])
    assert list(held["holds"]) in ([mid], [])  # one hold (or already settled)
    charged = _settled(mid).charged
    assert ChatMessage.objects(role="assistant").count() == 1
    assert ChatSession.objects.count() == 1
    assert [e["key"] for e in _charges(info["id"])] == [mid]
    after = tokens_of(info["id"])
    assert after["reserved"] == 0 and after["balance"] == before - charged
    assert reconcile() == []


def test_the_same_key_with_another_body_is_409_and_changes_nothing(live, user):
    _, token = user
    assert _post(live, token, "k").status_code == 202
    for changed in (
        {**BODY, "message": "something else"},
        {**BODY, "modelId": FREE2},
        {**BODY, "options": {"maxTokens": 101}},
    ):
        res = _post(live, token, "k", changed)
        assert res.status_code == 409, res.json()
        assert (
            res.json()["code"] == "CONFLICT" and res.json()["details"]["field"] == "Idempotency-Key"
        )
    assert ChatMessage.objects(role="assistant").count() == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there"])
def test_a_malformed_key_is_400(live, user, key):
    res = _post(live, user[1], key)
    assert res.status_code == 400 and res.json()["code"] == "VALIDATION_ERROR", res.json()
    assert ChatMessage.objects.count() == 0


def test_a_refused_send_can_be_retried_with_its_key(live, user):
    info, token = user
    set_balance(info["id"], 10)
    refused = _post(live, token, "retry-me")
    assert refused.status_code == 402
    wallet.credit(info["id"], 5_000, f"topup-{info['id']}", "test")
    res = _post(live, token, "retry-me")
    assert res.status_code == 202 and "Idempotent-Replayed" not in res.headers
    _settled(_ids(res)[2][0])
    assert reconcile() == []


def test_the_key_survives_a_redis_wipe(live, user):
    info, token = user
    first = _post(live, token, "wipe-proof")
    mid = _ids(first)[2][0]
    _settled(mid)
    wait_for(lambda: channel.has_final(mid), 30, what="the final frame")  # then wipe it
    get_redis().flushdb()  # the test's private database
    again = _post(live, token, "wipe-proof")
    assert again.status_code == 202 and _ids(again) == _ids(first)
    # `wait` only shapes the answer: the same send, answered from MongoDB (Redis has no frames).
    waited = _post(live, token, "wipe-proof", {**BODY, "wait": True})
    assert waited.status_code == 200 and waited.headers["Idempotent-Replayed"] == "true"
    assert waited.json()["data"]["message"]["id"] == _ids(first)[2][0]
    assert len(_charges(info["id"])) == 1
    assert reconcile() == []


def test_websocket_request_ids_are_keys_per_user(live, user, make_user):
    info, token = user
    frame = {"type": "chat.send", "message": "via the socket", "models": [FREE]}
    one = WsClient(live.ws_url, token)
    one.send(**frame, requestId="ws-1")
    accepted = one.until(lambda f: f["type"] == "accepted")
    (mid,) = [m["messageId"] for m in accepted["messages"]]
    assert one.finals([mid])[mid]["type"] == "done"
    one.close()

    two = WsClient(live.ws_url, token)  # a reconnected client resends
    two.send(**frame, requestId="ws-1")
    replay = two.until(lambda f: f["type"] == "accepted")
    assert replay["replayed"] is True and replay["requestId"] == "ws-1"
    assert (
        replay["sessionId"] == accepted["sessionId"] and replay["messages"] == accepted["messages"]
    )
    assert two.finals([mid])[mid]["type"] == "done"  # the stored answer, replayed
    two.send(type="chat.send", message="different", models=[FREE], requestId="ws-1")
    err = two.until(lambda f: f["type"] == "error")
    assert (err["code"], err["requestId"]) == ("CONFLICT", "ws-1")
    two.close()

    # The same key over HTTP with the same send is the same send too.
    body = {"message": "via the socket", "models": [FREE]}
    assert _ids(_post(live, token, "ws-1", body))[2] == (mid,)
    # Another user's identical requestId is another send.
    _, other_token = make_user()
    three = WsClient(live.ws_url, other_token)
    three.send(**frame, requestId="ws-1")
    theirs = three.until(lambda f: f["type"] == "accepted")
    assert "replayed" not in theirs and theirs["messages"][0]["messageId"] != mid
    three.finals([theirs["messages"][0]["messageId"]])
    three.close()
    assert len(_charges(info["id"])) == 1
    assert reconcile() == []


class _Killed(BaseException):
    """The web process dying at this point (nothing after it runs, nothing is cleaned up)."""


def _die(*_args, **_kwargs):
    raise _Killed()


def _died_before_holding(owner: User, cmd: SendCommand, monkeypatch) -> ChatMessage:
    """The first attempt stored its messages (the key) and its session, then died before its
    hold was placed (and before it could undo anything). Returns its pending answer."""
    monkeypatch.setattr(sending, "hold_all", _die)
    monkeypatch.setattr(sending, "_undo", _die)
    with pytest.raises(_Killed):
        send(cmd, _die)
    monkeypatch.undo()
    (dead,) = ChatMessage.objects(role="assistant", status="pending")
    assert tokens_of(str(owner.id))["holds"] == {}
    return dead


def test_an_attempt_that_died_before_holding_is_undone_and_sent_once(live, user, monkeypatch):
    """A retry after `IDEMPOTENCY_STALE_SECONDS` finds the key's send incomplete (an answer
    pending without its hold): it deletes that attempt's writes and sends once."""
    info, _ = user
    use_settings(live.settings.with_overrides(idempotency_stale_seconds=0.5))
    owner = User.objects.get(id=info["id"])
    cmd = SendCommand(user=owner, message="once", models=[FREE], idempotency_key="dies")
    dead = _died_before_holding(owner, cmd, monkeypatch)
    assert ChatSession.objects.count() == 1

    time.sleep(0.6)
    owner.reload()
    queued: list[str] = []
    result = send(cmd, lambda mid, hold=None: queued.append(mid))
    (mid,) = [str(m.id) for m in result.messages]
    assert not result.replayed and mid != str(dead.id) and queued == [mid]
    assert ChatMessage.objects(id=dead.id).first() is None  # the dead attempt's answer is gone
    assert ChatMessage.objects(id=dead.parentId).first() is None  # and its user message
    assert list(tokens_of(info["id"])["holds"]) == [mid]
    assert ChatSession.objects.count() == 1  # the dead attempt's new session went too
    assert complete(mid) == "done"
    assert [e["key"] for e in _charges(info["id"])] == [mid]
    assert send(cmd, lambda mid, hold=None: queued.append(mid)).messages[0].id == ObjectId(mid)
    assert reconcile() == []


def test_a_repeat_of_an_incomplete_send_waits_then_gets_409_and_the_reaper_ends_it(
    live, user, monkeypatch
):
    """Before `IDEMPOTENCY_STALE_SECONDS` an incomplete send may still be writing: a repeat
    waits, then gets 409. The reaper never runs an answer without its hold: it fails it."""
    info, _ = user
    use_settings(live.settings.with_overrides(idempotency_wait_seconds=0.3))
    owner = User.objects.get(id=info["id"])
    cmd = SendCommand(user=owner, message="held?", models=[FREE], idempotency_key="half")
    dead = _died_before_holding(owner, cmd, monkeypatch)
    started = time.monotonic()
    with pytest.raises(Conflict) as busy:
        send(cmd, _die)
    assert busy.value.details["inProgress"] is True and time.monotonic() - started >= 0.3
    assert tokens_of(info["id"])["holds"] == {}  # the repeat's own hold was released

    use_settings(live.settings.with_overrides(pending_requeue_seconds=0))
    enqueued: list[str] = []
    reaper.reap_stale(enqueue=enqueued.append)
    ended = ChatMessage.objects.get(id=dead.id)
    assert enqueued == [] and ended.status == "failed" and ended.charged == 0
    assert tokens_of(info["id"])["reserved"] == 0 and _charges(info["id"]) == []
    assert reconcile() == []


def test_an_attempt_that_died_before_enqueueing_is_enqueued_by_the_retry(live, user):
    """Complete (its hold placed) but never enqueued: the retry answers with its ids and
    enqueues the pending answer with its hold."""
    info, _ = user
    use_settings(live.settings.with_overrides(idempotency_stale_seconds=2))
    owner = User.objects.get(id=info["id"])
    cmd = SendCommand(user=owner, message="once", models=[FREE], idempotency_key="no-task")
    with pytest.raises(_Killed):
        send(cmd, _die)
    (mid,) = tokens_of(info["id"])["holds"]
    placed = tokens_of(info["id"])["holds"][mid]
    owner.reload()
    queued: list[tuple] = []
    assert send(cmd, lambda m, hold=None: queued.append((m, hold))).replayed
    assert queued == []  # not stale yet: the first attempt may still enqueue it
    time.sleep(2.1)
    result = send(cmd, lambda m, hold=None: queued.append((m, hold)))
    assert result.replayed and [q[0] for q in queued] == [str(result.messages[0].id)] == [mid]
    assert queued[0][1]["id"] == placed["id"] and queued[0][1]["amount"] == placed["amount"]
    outcome = complete(mid, hold=queued[0][1])
    assert outcome == "done", ChatMessage.objects.get(id=mid).error
    assert len(_charges(info["id"])) == 1
    assert reconcile() == []


def test_concurrent_identical_sends_in_threads_are_one_send(live, user):
    """Eight threads send with one key at once: one send stores and holds, the others take
    their writes back and answer with it; the balance moves by one charge."""
    info, _ = user
    owner = User.objects.get(id=info["id"])
    before = tokens_of(info["id"])["balance"]
    cmd = SendCommand(user=owner, message="at once", models=[FREE], idempotency_key="burst")
    go = threading.Barrier(8)
    queued: list[str] = []
    results = []

    def attempt() -> None:
        go.wait()
        results.append(send(cmd, lambda mid, hold=None: queued.append(mid)))

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and sum(not r.replayed for r in results) == 1
    assert len({tuple(m.id for m in r.messages) for r in results}) == 1
    (mid,) = {str(r.messages[0].id) for r in results}
    assert queued == [mid]
    held = tokens_of(info["id"])
    assert list(held["holds"]) == [mid] and held["balance"] == before - held["reserved"]
    assert ChatMessage.objects(role="assistant").count() == 1
    assert ChatMessage.objects(role="user").count() == 1 and ChatSession.objects.count() == 1
    assert complete(mid) == "done"
    charged = ChatMessage.objects.get(id=mid).charged
    after = tokens_of(info["id"])
    assert after["reserved"] == 0 and after["balance"] == before - charged
    assert [e["key"] for e in _charges(info["id"])] == [mid]
    assert reconcile() == []


def test_a_key_past_its_window_is_a_new_send(live, user):
    info, _ = user
    use_settings(live.settings.with_overrides(idempotency_window_seconds=2))
    owner = User.objects.get(id=info["id"])
    cmd = SendCommand(user=owner, message="again later", models=[FREE], idempotency_key="old")
    first = send(cmd, lambda mid, hold=None: None)
    assert send(cmd, lambda mid, hold=None: None).replayed  # within the window
    time.sleep(2.2)
    owner.reload()
    later = send(cmd, lambda mid, hold=None: None)
    assert not later.replayed and later.messages[0].id != first.messages[0].id
    # The key moved to the new send: the old one keeps its messages, not the key.
    assert ChatMessage.objects.get(id=first.user_message.id).requestKey is None
    assert ChatMessage.objects.get(id=later.user_message.id).requestKey is not None
    assert send(cmd, lambda mid, hold=None: None).messages[0].id == later.messages[0].id
