"""Crash recovery and money under concurrency, across real processes (see test_chat_stream)."""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor

from common.conversations.models import ChatMessage
from common.engine import reaper
from common.streaming import channel
from common.wallet.models import LedgerEntry
from common.wallet.reconcile import reconcile
from tests.support.chatkit import FREE, Api, set_balance, tokens_of
from tests.support.services import wait_for


def test_worker_killed_mid_answer_is_interrupted_released_and_told(live, fake, ws, user):
    fake.scenario(FREE, deltas=[f"k{i} " for i in range(200)], interval=0.05)
    ws.send(type="chat.send", requestId="k", message="long answer please", models=[FREE])
    mid = ws.until(lambda f: f["type"] == "accepted")["messages"][0]["messageId"]
    ws.until(lambda f: f["type"] == "chunk" and f["seq"] == 3)
    live.kill_worker()
    live.restart_worker()

    def reaped():
        live.reap()
        return ChatMessage.objects(id=mid).first().status == "interrupted"

    wait_for(reaped, 60, 0.5, "the reaper to interrupt the dead worker's answer")
    err = ws.until(lambda f: f["type"] == "error" and f.get("messageId") == mid)
    assert err["code"] == "STREAM_INTERRUPTED" and err["user"]["tokens"]["reserved"] == 0
    seqs = [c["seq"] for c in ws.chunks(mid)]
    assert seqs == list(range(1, len(seqs) + 1)) and err["seq"] == len(seqs)
    assert tokens_of(user[0]["id"]) == {**tokens_of(user[0]["id"]), "balance": 10_000, "holds": {}}
    # The killed task comes back some day (acks_late): it must do nothing.
    assert live.celery.send_task("chat.complete", [mid]).get(timeout=30) == "already-final"
    assert LedgerEntry.objects(key=mid).count() == 1
    assert LedgerEntry.objects(key=mid).first().amount == 0
    assert fake.stats()["chat_by_model"][FREE] == 1
    assert reconcile() == []


def test_twenty_concurrent_sends_never_overdraw_and_reconcile(live, fake, user):
    # The provider holds its first delta back long enough that no hold can close (and give
    # tokens back) during the burst, so exactly the five sends the balance covers get in.
    fake.scenario(FREE, deltas=["a ", "b "], first_delay=10.0, interval=0.01)
    uid = user[0]["id"]
    set_balance(uid, 5_500)
    client = Api(live, user[1])
    body = {"message": "count me", "modelId": FREE, "options": {"maxTokens": 1000}}
    started = time.monotonic()
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: client.post("/api/chat", body), range(20)))
    assert time.monotonic() - started < 10.0, "the burst outlasted the provider's delay"
    codes = sorted(a.status_code for a in answers)
    accepted = [a.json()["data"]["messages"][0]["id"] for a in answers if a.status_code == 202]
    assert set(codes) == {202, 402} and len(accepted) == 5, [
        a.json() for a in answers if a.status_code not in (202, 402)
    ] or codes
    for a in answers:
        body_ = a.json()
        snapshot = body_["user"] if a.status_code == 402 else body_["data"]["user"]
        assert snapshot["tokens"]["balance"] >= 0
        if a.status_code == 402:
            assert body_["code"] == "INSUFFICIENT_TOKENS"
            assert {"required", "available", "suggestion"} <= set(body_["details"])
    wait_for(lambda: all(channel.has_final(m) for m in accepted), 60, 0.2, "every answer to end")
    after = tokens_of(uid)
    charged = sum(ChatMessage.objects(id=m).first().charged for m in accepted)
    assert after["holds"] == {} and after["balance"] == 5_500 - charged >= 0
    assert reconcile() == []


def test_a_worker_starved_longer_than_its_lease_is_not_interrupted(live, fake, ws, user):
    """SIGSTOP freezes the worker (as a starved CPU would, only longer) past its lease: the web
    watchdog and the reaper see the lease lapse, find its process still connected, and wait;
    once it runs again the answer ends `done`, whole, charged once."""
    deltas = [f"s{i} " for i in range(30)]
    fake.scenario(FREE, deltas=deltas, interval=0.05)
    ws.send(type="chat.send", requestId="s", message="keep going", models=[FREE])
    mid = ws.until(lambda f: f["type"] == "accepted")["messages"][0]["messageId"]
    ws.until(lambda f: f["type"] == "chunk" and f["seq"] == 3)
    lease = live.settings.hold_lease_seconds
    live.worker.kill(signal.SIGSTOP)
    try:
        wait_for(lambda: not channel.leases_alive([mid])[mid], lease + 5, 0.1, "the lease to lapse")
        stopped_until = time.monotonic() + lease + 2
        while time.monotonic() < stopped_until:  # the web watchdog looks every second meanwhile
            assert reaper.reap_stale()["interrupted"] == 0
            assert ChatMessage.objects(id=mid).first().status == "streaming"
            time.sleep(0.5)
    finally:
        live.worker.kill(signal.SIGCONT)
    done = ws.finals([mid])[mid]
    assert done["type"] == "done" and done["content"] == "".join(deltas)
    assert [c["seq"] for c in ws.chunks(mid)] == list(range(1, len(deltas) + 1))
    msg = ChatMessage.objects(id=mid).first()
    assert msg.status == "done" and msg.charged == done["charged"] > 0
    assert LedgerEntry.objects(key=mid).count() == 1
    assert tokens_of(user[0]["id"])["holds"] == {}
    assert reconcile() == []
