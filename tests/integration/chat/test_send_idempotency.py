"""A send repeated with its idempotency key (`Idempotency-Key`, the websocket's `requestId`) is
the same send: the first one's ids, one hold, one charge — also after a Redis wipe, from
concurrent requests, and after the first attempt died mid-send."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import requests

from common.conversations.models import ChatMessage, ChatSession
from common.engine.completion import complete
from common.errors import Conflict
from common.redis_client import get_redis
from common.sending import idempotency
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
    _settled(mid)
    assert ChatMessage.objects(role="assistant").count() == 1
    assert ChatSession.objects.count() == 1
    assert [e["key"] for e in _charges(info["id"])] == [mid]
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


def test_an_attempt_that_died_before_committing_is_undone_and_sent_once(live, user, monkeypatch):
    """The first attempt stored its holds, messages and session, then died: a retry after
    `IDEMPOTENCY_STALE_SECONDS` takes the key over, undoes those writes and sends once."""
    info, _ = user
    use_settings(live.settings.with_overrides(idempotency_stale_seconds=0.5))
    owner = User.objects.get(id=info["id"])
    cmd = SendCommand(user=owner, message="once", models=[FREE], idempotency_key="dies")
    queued: list[str] = []
    monkeypatch.setattr(idempotency, "commit", _die)
    with pytest.raises(_Killed):
        send(cmd, lambda mid, hold=None: queued.append(mid))
    monkeypatch.undo()
    (dead,) = tokens_of(info["id"])["holds"]
    assert queued == [] and ChatMessage.objects(id=dead).first() is not None

    time.sleep(0.6)
    owner.reload()
    result = send(cmd, lambda mid, hold=None: queued.append(mid))
    (mid,) = [str(m.id) for m in result.messages]
    assert mid != dead and queued == [mid]
    assert ChatMessage.objects(id=dead).first() is None  # the dead attempt's answer is gone
    assert list(tokens_of(info["id"])["holds"]) == [mid]  # its hold released, ours placed
    assert ChatSession.objects.count() == 1
    assert complete(mid) == "done"
    assert [e["key"] for e in _charges(info["id"])] == [mid]
    assert reconcile() == []


def test_an_attempt_that_died_before_enqueueing_is_enqueued_by_the_retry(live, user):
    info, _ = user
    use_settings(live.settings.with_overrides(idempotency_stale_seconds=0.5))
    owner = User.objects.get(id=info["id"])
    cmd = SendCommand(user=owner, message="once", models=[FREE], idempotency_key="no-task")
    with pytest.raises(_Killed):
        send(cmd, _die)
    time.sleep(0.6)
    queued: list[str] = []
    result = send(cmd, lambda mid, hold=None: queued.append(mid))
    assert result.replayed and queued == [str(result.messages[0].id)]
    outcome = complete(queued[0])
    assert outcome == "done", ChatMessage.objects.get(id=queued[0]).error
    assert len(_charges(info["id"])) == 1
    assert reconcile() == []


def test_a_repeat_while_the_first_is_running_waits_then_gets_409(live, user):
    info, _ = user
    use_settings(live.settings.with_overrides(idempotency_wait_seconds=0.3))
    owner = User.objects.get(id=info["id"])
    digest = idempotency.fingerprint({"any": "thing"})
    planned = {"sessionId": "s", "newSession": True, "userMessageId": "0" * 24, "messages": []}
    key = f"busy-{uuid.uuid4().hex}"
    claim = idempotency.claim(owner.id, key, digest, planned)
    assert isinstance(claim, idempotency.Claim)
    started = time.monotonic()
    with pytest.raises(Conflict) as busy:
        idempotency.claim(owner.id, key, digest, planned)
    assert busy.value.details["inProgress"] is True and time.monotonic() - started >= 0.3
    idempotency.commit(claim)
    assert isinstance(idempotency.claim(owner.id, key, digest, planned), idempotency.Replay)


def test_a_key_past_its_window_is_a_new_send(live, user):
    info, _ = user
    use_settings(live.settings.with_overrides(idempotency_window_seconds=1))
    owner = User.objects.get(id=info["id"])
    cmd = SendCommand(user=owner, message="again later", models=[FREE], idempotency_key="old")
    first = send(cmd, lambda mid, hold=None: None)
    assert send(cmd, lambda mid, hold=None: None).replayed  # within the window
    time.sleep(1.2)
    owner.reload()
    later = send(cmd, lambda mid, hold=None: None)
    assert not later.replayed and later.messages[0].id != first.messages[0].id


def test_a_slow_attempt_taken_over_undoes_itself_and_answers_with_the_retry(
    live, user, monkeypatch
):
    """The first attempt is alive but slower than `IDEMPOTENCY_STALE_SECONDS`: a retry takes
    the key over and sends; the first finds its commit refused, undoes its own writes and
    answers with the retry's send. One hold, one answer."""
    info, _ = user
    use_settings(live.settings.with_overrides(idempotency_stale_seconds=0.3))
    owner = User.objects.get(id=info["id"])
    cmd = SendCommand(user=owner, message="slow", models=[FREE], idempotency_key="slow-one")
    queued: list[str] = []
    real_commit, retry = idempotency.commit, {}

    def commit_after_a_retry(claim):
        if not retry:  # the first attempt, stalled just before its commit
            retry["started"] = True
            time.sleep(0.4)
            retry["result"] = send(cmd, lambda mid, hold=None: queued.append(mid))
        return real_commit(claim)

    monkeypatch.setattr(idempotency, "commit", commit_after_a_retry)
    first = send(cmd, lambda mid, hold=None: queued.append(mid))
    second = retry["result"]
    assert first.replayed and not second.replayed
    assert [m.id for m in first.messages] == [m.id for m in second.messages]
    (mid,) = [str(m.id) for m in second.messages]
    # Only the retry's answer is enqueued (the first's replay may enqueue it again once it is
    # older than the tiny stale time used here: a second task for an answer is a no-op).
    assert set(queued) == {mid}
    assert list(tokens_of(info["id"])["holds"]) == [mid]
    assert ChatMessage.objects(role="assistant").count() == 1 and ChatSession.objects.count() == 1
    assert complete(mid) == "done"
    assert [e["key"] for e in _charges(info["id"])] == [mid]
    assert reconcile() == []
