"""Streaming chat end to end: gunicorn (gevent) + a Celery worker process + Redis + nx-27017 +
the fake OpenRouter, driven through HTTP and the websocket protocol."""

from __future__ import annotations

import time
import uuid

from common.conversations.models import ChatMessage
from common.streaming import channel
from common.wallet import pricing
from common.wallet.models import LedgerEntry
from common.wallet.reconcile import reconcile
from tests.support.chatkit import FREE, FREE2, FREE3, tokens_of
from tests.support.services import wait_for
from tests.support.wsclient import WsClient

WORDS = [f"w{i} " for i in range(12)]


def _send(ws, models, message="hello there", request_id="r1", **options):
    request_id = f"{request_id}-{uuid.uuid4().hex}"  # a requestId is an idempotency key
    ws.send(type="chat.send", requestId=request_id, message=message, models=models, options=options)
    accepted = ws.until(lambda f: f["type"] in ("accepted", "error"))
    assert accepted["type"] == "accepted", accepted
    return [m["messageId"] for m in accepted["messages"]], accepted


def _assert_whole(ws, mid, deltas):
    chunks = ws.chunks(mid)
    assert [c["seq"] for c in chunks] == list(range(1, len(deltas) + 1))
    assert "".join(c["delta"] for c in chunks) == "".join(deltas)


def test_one_model_streams_settles_and_reports_usage(live, fake, ws, user):
    fake.scenario(
        FREE, deltas=WORDS, usage={"prompt_tokens": 11, "completion_tokens": 12, "total_tokens": 23}
    )
    before = tokens_of(user[0]["id"])
    (mid,), accepted = _send(ws, FREE, maxTokens=200)
    assert accepted["requestId"].startswith("r1-") and accepted["sessionId"].startswith("chat_")
    assert accepted["user"]["tokens"]["reserved"] > 0
    done = ws.finals([mid])[mid]
    assert done["type"] == "done", done
    _assert_whole(ws, mid, WORDS)
    assert done["seq"] == len(WORDS) and done["content"] == "".join(WORDS)
    assert done["usage"] == {"promptTokens": 11, "completionTokens": 12, "totalTokens": 23}
    # A free model, at the free rate on both sides (common/wallet/pricing.py).
    rates = pricing.rates_for(0, 0, pricing.Tariff.from_settings(live.settings))
    charged = pricing.tokens_for(11, 12, rates)
    assert done["charged"] == done["receipt"]["charged"] == charged
    assert done["user"]["tokens"]["balance"] == before["balance"] - charged
    assert done["user"]["tokens"]["reserved"] == 0
    msg = ChatMessage.objects(id=mid).first()
    assert msg.status == "done" and msg.charged == charged and msg.ttftMs is not None
    assert LedgerEntry.objects(key=mid).count() == 1
    assert reconcile() == []


def test_three_models_stream_in_parallel_each_with_its_own_hold(live, fake, ws, user):
    for model in (FREE, FREE2, FREE3):
        fake.scenario(
            model, deltas=[f"{model}-{j} " for j in range(6)], first_delay=0.4, interval=0.02
        )
    mids, accepted = _send(ws, [FREE, FREE2, FREE3])
    assert [m["modelId"] for m in accepted["messages"]] == [FREE, FREE2, FREE3]
    assert len(accepted["user"]["tokens"]) and len(tokens_of(user[0]["id"])["holds"]) == 3
    finals = ws.finals(mids)
    for mid, model in zip(mids, (FREE, FREE2, FREE3), strict=True):
        assert finals[mid]["type"] == "done"
        _assert_whole(ws, mid, [f"{model}-{j} " for j in range(6)])
    assert fake.stats()["max_active_streams"] >= 2  # they overlapped: one worker, many threads
    after = tokens_of(user[0]["id"])
    assert after["holds"] == {} and after["reserved"] == 0
    assert sum(f["charged"] for f in finals.values()) == 10_000 - after["balance"]
    assert reconcile() == []


def test_reconnect_mid_stream_resumes_after_seq_without_gap_or_duplicate(live, fake, user):
    deltas = [f"d{i} " for i in range(30)]
    fake.scenario(FREE, deltas=deltas, interval=0.05)
    first = WsClient(live.ws_url, user[1])
    (mid,), _ = _send(first, FREE)
    first.until(lambda f: f["type"] == "chunk" and f["seq"] == 5)
    first.close()
    second = WsClient(live.ws_url, user[1])
    second.send(type="subscribe", messageId=mid, afterSeq=5)
    done = second.finals([mid])[mid]
    assert done["type"] == "done" and done["content"] == "".join(deltas), done
    assert [c["seq"] for c in second.chunks(mid)] == list(range(6, 31))
    # After the end, a subscriber from 0 gets the whole stream replayed from the buffer.
    second.send(type="subscribe", messageId=mid, afterSeq=0)
    again = second.until(lambda f: f["type"] == "done")
    assert [c["seq"] for c in second.chunks(mid)] == list(range(6, 31)) + list(range(1, 31))
    assert again["charged"] == done["charged"]
    second.close()


def test_cancel_stops_the_stream_and_charges_only_what_was_generated(live, fake, ws, user):
    fake.scenario(FREE, deltas=[f"c{i} " for i in range(400)], interval=0.05)
    (mid,), accepted = _send(ws, FREE, maxTokens=1000)
    reserved = accepted["user"]["tokens"]["reserved"]
    ws.until(lambda f: f["type"] == "chunk" and f["seq"] == 3)
    ws.send(type="cancel", messageId=mid)
    final = ws.finals([mid])[mid]
    assert final["type"] == "cancelled", final
    generated = len(ws.chunks(mid))
    assert final["seq"] == generated and generated < 400
    msg = ChatMessage.objects(id=mid).first()
    assert msg.status == "cancelled" and msg.content == "".join(f"c{i} " for i in range(generated))
    assert 0 < final["charged"] == msg.charged < reserved
    assert final["user"]["tokens"]["balance"] == 10_000 - msg.charged
    assert final["user"]["tokens"]["reserved"] == 0
    wait_for(lambda: fake.stats()["disconnects"] >= 1, 10, what="the provider stream to close")
    assert reconcile() == []


def test_cancel_over_http_before_the_worker_starts_charges_nothing(live, fake, api, user):
    fake.scenario(FREE, deltas=WORDS)
    live.kill_worker()  # no worker: the task waits in the queue
    try:
        res = api.post("/api/chat", {"message": "hi", "modelId": FREE})
        mid = res.json()["data"]["messages"][0]["id"]
        res = api.post(f"/api/chat/messages/{mid}/cancel")
        assert res.status_code == 200 and res.json()["data"]["message"]["status"] == "cancelled"
        assert res.json()["data"]["user"]["tokens"]["balance"] == 10_000
    finally:
        live.start_worker()
        live.wait_healthy()
    # The parked task now runs too; while it holds the message's lease, ours stands aside.
    outcome, deadline = "owned-elsewhere", time.monotonic() + 30
    while outcome == "owned-elsewhere" and time.monotonic() < deadline:
        outcome = live.celery.send_task("chat.complete", [mid]).get(timeout=30)
    assert outcome == "already-final"
    assert fake.stats()["chat_calls"] == 0
    assert reconcile() == []


def test_provider_429_is_retried_before_the_first_delta(live, fake, ws):
    fake.scenario(FREE, deltas=WORDS, status=429, error="slow down", retry_after=1, fail_times=1)
    (mid,), _ = _send(ws, FREE)
    done = ws.finals([mid])[mid]
    assert done["type"] == "done" and done["content"] == "".join(WORDS)
    _assert_whole(ws, mid, WORDS)
    assert fake.stats()["chat_by_model"][FREE] == 2
    assert ChatMessage.objects(id=mid).first().attempts == 1


def test_provider_402_gives_a_clear_error_and_releases_the_hold(live, fake, ws, user):
    fake.scenario(FREE, status=402, error="Insufficient credits")
    (mid,), _ = _send(ws, FREE)
    err = ws.finals([mid])[mid]
    assert err["type"] == "error" and err["code"] == "PROVIDER_ERROR"
    assert err["details"]["reason"] == "out_of_credits" and "credits" in err["message"]
    assert err["user"]["tokens"] == {**err["user"]["tokens"], "balance": 10_000, "reserved": 0}
    msg = ChatMessage.objects(id=mid).first()
    assert msg.status == "failed" and msg.charged == 0 and msg.error["code"] == "PROVIDER_ERROR"
    assert fake.stats()["chat_by_model"][FREE] == 1  # not retryable
    assert reconcile() == []


def test_mid_stream_error_ends_with_an_error_frame_and_no_charge(live, fake, ws, user):
    fake.scenario(FREE, deltas=WORDS, midstream_error_after=3)
    (mid,), _ = _send(ws, FREE)
    err = ws.finals([mid])[mid]
    assert err["type"] == "error" and err["details"]["reason"] == "stream_error"
    assert [c["seq"] for c in ws.chunks(mid)] == [1, 2, 3] and err["seq"] == 3
    assert tokens_of(user[0]["id"]) == {**tokens_of(user[0]["id"]), "balance": 10_000, "holds": {}}
    assert fake.stats()["chat_by_model"][FREE] == 1  # never retried after a delta went out
    assert reconcile() == []


def test_same_task_delivered_twice_neither_charges_nor_streams_twice(live, fake, ws, user):
    fake.scenario(FREE, deltas=WORDS, interval=0.1)
    (mid,), _ = _send(ws, FREE)
    ws.until(lambda f: f["type"] == "chunk")
    # A duplicate delivery while the first run streams: the live lease turns it away.
    assert live.celery.send_task("chat.complete", [mid]).get(timeout=30) == "owned-elsewhere"
    done = ws.finals([mid])[mid]
    # And after the end (the run drops its lease just after its final frame): the message is
    # final, nothing runs again.
    wait_for(lambda: not channel.leases_alive([mid])[mid], 10, 0.05, "the run's lease to go")
    assert live.celery.send_task("chat.complete", [mid]).get(timeout=30) == "already-final"
    assert fake.stats()["chat_by_model"][FREE] == 1
    assert LedgerEntry.objects(key=mid).count() == 1
    assert tokens_of(user[0]["id"])["balance"] == 10_000 - done["charged"]
    assert len(channel.buffered(mid)) == len(WORDS) + 1
    assert reconcile() == []
