"""Outages under live streams: Redis, the database and workers killed and restarted.

The stack here (gunicorn + a Celery worker) runs on its own redis-server and its own nx-27017
(data in a file, so it can be killed and started again), never the shared Redis: the tests
stop and start both. Settings are the production defaults except the short bounds that keep
each test under ~30 s (requeue after 2 s, 2 tries, 5 s of outage retries, 1.5 s server
selection).
"""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import timedelta

import pytest
import redis
import requests
from bson import ObjectId

from common import db
from common.catalog.service import invalidate_cache, sync_provider
from common.conversations.models import ChatMessage
from common.conversations.tokens import estimate_tokens
from common.engine import reaper
from common.sending.command import SendCommand
from common.sending.send import send
from common.streaming import channel
from common.users.models import User
from common.wallet import service as wallet
from common.wallet.reconcile import reconcile
from config import Settings, use_settings
from tests.support.chatkit import FREE, FREE2, FREE3, Api, tokens_of
from tests.support.services import MongoServer, RedisServer, wait_for
from tests.support.stack import Stack
from tests.support.wsclient import WsClient

FINALS = ("done", "error", "cancelled")
START = 10_000  # FREE_TOKENS


@dataclasses.dataclass
class Env:
    stack: Stack
    redis: RedisServer
    mongo: MongoServer
    settings: Settings

    def user(self) -> tuple[str, str]:
        """A new user registered through the stack; (id, token)."""
        email = f"outage-{ObjectId()}@example.com"
        res = requests.post(
            self.stack.base_url + "/api/auth/register",
            json={"email": email, "password": "correct-horse-1", "name": "Outage"},
            timeout=30,
        )
        assert res.status_code == 201, res.text
        data = res.json()["data"]
        return data["user"]["id"], data["token"]


@pytest.fixture(scope="module")
def outage_env(base_settings, fake, tmp_path_factory):
    redis_server = RedisServer().start()
    mongo = MongoServer(tmp_path_factory.mktemp("outage-nx")).start()
    settings = base_settings.with_overrides(
        # A short server selection, so that the settlement's own bound is what a test meets.
        mongodb_uri=f"mongodb://{mongo.address}/aipasta_outage?directConnection=true"
        "&serverSelectionTimeoutMS=1500",
        redis_url=redis_server.url,
        openrouter_base_url=fake.base_url,
        pending_requeue_seconds=2,
        pending_max_requeues=2,
        outage_retry_seconds=5,
    )
    stack = Stack(settings, name="outage")
    try:
        stack.start()
        yield Env(stack, redis_server, mongo, settings)
    finally:
        stack.stop()
        mongo.kill()
        redis_server.stop()


@pytest.fixture
def env(outage_env, fake):
    """This process on the outage stack's database and Redis, with a synced catalog."""
    use_settings(outage_env.settings)
    db.connect(outage_env.settings.mongodb_uri)
    fake.reset()
    invalidate_cache()
    sync_provider("openrouter")
    yield outage_env
    if outage_env.redis.proc is None:  # a test failed with Redis down
        outage_env.redis.start()
    if outage_env.mongo.proc is None:
        outage_env.mongo.start()


def _send(ws: WsClient, models, message="tell me a long story") -> tuple[list[str], dict]:
    ws.send(type="chat.send", requestId="o1", message=message, models=models)
    accepted = ws.until(lambda f: f["type"] in ("accepted", "error"))
    assert accepted["type"] == "accepted", accepted
    return [m["messageId"] for m in accepted["messages"]], accepted


def _final(ws: WsClient, mid: str, timeout: float = 30.0) -> dict:
    return ws.until(lambda f: f.get("messageId") == mid and f["type"] in FINALS, timeout)


def _wallet_closed(uid: str, charged: int) -> None:
    after = tokens_of(uid)
    assert after["holds"] == {} and after["reserved"] == 0
    assert after["balance"] == START - charged
    assert reconcile() == []


# -- 1. deleting a session mid-answer --------------------------------------------------------


def test_deleting_a_session_mid_answer_cancels_and_charges_it_first(env, fake):
    fake.scenario(FREE, deltas=[f"d{i} " for i in range(300)], interval=0.05)
    uid, token = env.user()
    ws = WsClient(env.stack.ws_url, token)
    try:
        (mid,), accepted = _send(ws, FREE)
        ws.until(lambda f: f["type"] == "chunk" and f["seq"] == 3)
        res = Api(env.stack, token).delete(f"/api/chat/sessions/{accepted['sessionId']}")
        assert res.status_code == 200, res.text
        end = _final(ws, mid, timeout=15)
    finally:
        ws.close()
    assert end["type"] == "cancelled" and end["charged"] > 0, end
    assert end["user"]["tokens"]["reserved"] == 0
    assert ChatMessage.objects(id=mid).first() is None  # deleted once it had settled
    _wallet_closed(uid, end["charged"])


def test_reaper_charges_a_gone_message_for_the_chunks_its_stream_delivered(
    settings, make_user, monkeypatch
):
    """A hold whose message was deleted while its answer streamed is not given away."""
    user, _ = make_user()
    key = str(ObjectId())
    wallet.reserve(user["id"], 600, key, details={"kind": "chat"})
    deltas = ["a long answer ", "that streamed ", "for a while"]
    assert channel.publish_chunks(key, 1, deltas) == channel.PUBLISHED
    monkeypatch.setattr(reaper, "HOLD_GRACE", timedelta(seconds=-1))
    assert reaper.reap_stale()["holds"] == 1
    _wallet_closed(user["id"], estimate_tokens("".join(deltas)))


# -- 2. a pending answer whose task was lost ---------------------------------------------------


def test_an_answer_whose_task_was_lost_is_enqueued_again_and_answered(env, fake):
    fake.scenario(FREE, deltas=["back ", "from ", "the queue"])
    uid, _ = env.user()
    # The web process died between storing the pending answer and enqueueing its task.
    result = send(
        SendCommand(User.objects(id=uid).first(), "hello", [FREE]), lambda _mid, hold=None: None
    )
    mid = str(result.messages[0].id)

    def answered():
        env.stack.reap()  # what beat runs every 5 s
        return ChatMessage.objects(id=mid).first().status == "done"

    wait_for(answered, 30, 0.5, "the lost answer to be enqueued again and answered")
    msg = ChatMessage.objects(id=mid).first()
    assert msg.content == "back from the queue" and msg.requeues == 1 and msg.charged > 0
    # The final frame is published after the final state is committed: wait for it, not race it.
    wait_for(
        lambda: json.loads(channel.buffered(mid)[-1])["type"] == "done",
        10,
        0.1,
        "the final frame",
    )
    _wallet_closed(uid, msg.charged)


def test_an_answer_no_worker_takes_fails_after_its_tries_and_is_released(
    settings_override, make_user, fake
):
    """No worker consumes the queue: after PENDING_MAX_REQUEUES the answer fails, its hold is
    released and its client gets an error frame."""
    settings_override(
        openrouter_base_url=fake.base_url, pending_requeue_seconds=1, pending_max_requeues=2
    )
    invalidate_cache()
    sync_provider("openrouter")
    user, _ = make_user()
    result = send(
        SendCommand(User.objects(id=user["id"]).first(), "hi", [FREE]), lambda _m, hold=None: None
    )
    mid = str(result.messages[0].id)
    enqueued: list[str] = []
    started = time.monotonic()

    def failed():
        reaper.reap_stale(enqueue=enqueued.append)
        return ChatMessage.objects(id=mid).first().status == "failed"

    wait_for(failed, 20, 0.2, "the never-started answer to fail")
    assert enqueued == [mid, mid]  # two tries, then the end
    assert time.monotonic() - started < 3 * 1 + 2  # (tries + 1) x PENDING_REQUEUE_SECONDS
    frame = channel.final_frame(mid)
    assert frame["type"] == "error" and frame["code"] == "SERVICE_UNAVAILABLE", frame
    assert frame["user"]["tokens"]["reserved"] == 0
    _wallet_closed(user["id"], 0)


# -- 3-5. Redis and the database going away under live answers ------------------------------


def test_redis_restart_mid_answer_keeps_the_text_and_the_seq_and_ends_done(env, fake):
    deltas = [f"r{i} " for i in range(40)]
    fake.scenario(FREE, deltas=deltas, interval=0.1)
    uid, token = env.user()
    ws = WsClient(env.stack.ws_url, token)
    try:
        (mid,), _ = _send(ws, FREE)
        ws.until(lambda f: f["type"] == "chunk" and f["seq"] == 5)
        env.redis.stop()  # everything in it is lost: buffer, lease, queues
        time.sleep(2)
        env.redis.start()
        end = _final(ws, mid, timeout=40)
    finally:
        ws.close()
    assert end["type"] == "done", end  # not PROVIDER_ERROR: the provider did nothing wrong
    msg = ChatMessage.objects(id=mid).first()
    assert msg.status == "done" and msg.content == "".join(deltas) and msg.lastSeq == len(deltas)
    assert end["content"] == msg.content and msg.charged == end["charged"] > 0
    # A client coming back now replays the whole answer: the worker stored the lost chunks again.
    again = WsClient(env.stack.ws_url, token)
    try:
        again.send(type="subscribe", messageId=mid, afterSeq=0)
        assert again.finals([mid])[mid]["type"] == "done"
        assert "".join(c["delta"] for c in again.chunks(mid)) == "".join(deltas)
        assert [c["seq"] for c in again.chunks(mid)] == list(range(1, len(deltas) + 1))
    finally:
        again.close()
    _wallet_closed(uid, msg.charged)


def test_redis_down_past_the_retries_the_answer_still_ends_and_clients_learn_it(env, fake):
    deltas = [f"s{i} " for i in range(20)]
    fake.scenario(FREE, deltas=deltas, interval=0.1)
    uid, token = env.user()
    ws = WsClient(env.stack.ws_url, token)
    try:
        (mid,), _ = _send(ws, FREE)
        ws.until(lambda f: f["type"] == "chunk" and f["seq"] == 3)
        env.redis.stop()

        def stored(field: str):
            return lambda: getattr(ChatMessage.objects(id=mid).first(), field)

        # The answer ends in the store (charged) though Redis never comes back in time...
        wait_for(lambda: ChatMessage.objects(id=mid).first().status == "done", 30, 0.2, "done")
        # ...and its final frame, which could not be published, is left for the reaper.
        wait_for(stored("finalPending"), 30, 0.2, "the message to be marked finalPending")
        env.redis.start()
        end = _final(ws, mid, timeout=30)  # the socket's web process reads it from the store
        assert end["type"] == "done" and end["content"] == "".join(deltas), end
        # A client subscribing now (Redis has nothing) learns the end from the stored message.
        late = WsClient(env.stack.ws_url, token)
        try:
            late.send(type="subscribe", messageId=mid, afterSeq=0)
            assert late.finals([mid])[mid]["type"] == "done"
        finally:
            late.close()
    finally:
        ws.close()
    env.stack.reap()  # beat: the final frame goes to Redis too
    assert channel.final_frame(mid)["type"] == "done"
    msg = ChatMessage.objects(id=mid).first()
    assert not msg.finalPending and msg.content == "".join(deltas) and msg.charged > 0
    _wallet_closed(uid, msg.charged)


def test_a_database_blink_as_answers_end_is_ridden_out_and_they_are_charged(env, fake):
    for i, model in enumerate((FREE, FREE2, FREE3)):
        fake.scenario(model, deltas=[f"{i}-{j} " for j in range(25)], interval=0.08)
    uid, token = env.user()
    ws = WsClient(env.stack.ws_url, token)
    try:
        mids, _ = _send(ws, [FREE, FREE2, FREE3])
        ws.until(lambda f: f["type"] == "chunk" and f["seq"] == 20)
        env.mongo.kill()  # the answers end while it is down
        time.sleep(3)
        env.mongo.start()
        ends = ws.finals(mids, timeout=40)
    finally:
        ws.close()
    assert {e["type"] for e in ends.values()} == {"done"}, ends
    charged = 0
    for mid in mids:
        msg = ChatMessage.objects(id=mid).first()
        assert msg.status == "done" and msg.lastSeq == 25 and msg.charged > 0
        charged += msg.charged
    _wallet_closed(uid, charged)


def test_a_database_outage_past_the_retries_leaves_the_outcome_to_the_reaper(env, fake):
    """The database stays down longer than the settlement retries: the worker keeps the outcome
    in Redis and ends; once the database is back the answer is settled with it (done, charged
    for the whole text), not interrupted."""
    deltas = [f"m{j} " for j in range(15)]
    fake.scenario(FREE, deltas=deltas, interval=0.1)
    uid, token = env.user()
    ws = WsClient(env.stack.ws_url, token)
    try:
        (mid,), _ = _send(ws, FREE)
        ws.until(lambda f: f["type"] == "chunk" and f["seq"] == 10)
        env.mongo.kill()
        r = redis.Redis.from_url(env.settings.redis_url)
        wait_for(lambda: r.exists(f"aipasta:chat:outcome:{mid}"), 30, 0.2, "the kept outcome")
        env.mongo.start()
        end = _final(ws, mid, timeout=30)  # the web's watchdog applies it
    finally:
        ws.close()
    assert end["type"] == "done" and end["content"] == "".join(deltas), end
    msg = ChatMessage.objects(id=mid).first()
    assert msg.status == "done" and msg.lastSeq == len(deltas) and msg.charged == end["charged"] > 0
    assert not r.exists(f"aipasta:chat:outcome:{mid}")
    _wallet_closed(uid, msg.charged)


# -- 8. a worker killed mid-answer --------------------------------------------------------------


def test_a_slow_provider_silent_longer_than_the_lease_is_not_interrupted(env, fake):
    lease = env.settings.hold_lease_seconds
    fake.scenario(FREE, deltas=["slow ", "but ", "alive"], first_delay=lease + 2)
    uid, token = env.user()
    ws = WsClient(env.stack.ws_url, token)
    try:
        (mid,), _ = _send(ws, FREE)
        end = _final(ws, mid, timeout=30)
    finally:
        ws.close()
    assert end["type"] == "done" and end["content"] == "slow but alive", end
    _wallet_closed(uid, end["charged"])


def test_a_killed_worker_is_detected_within_ten_seconds_without_the_reaper(env, fake):
    assert env.settings.hold_lease_seconds == 6  # the production default
    fake.scenario(FREE, deltas=[f"k{i} " for i in range(400)], interval=0.05)
    uid, token = env.user()
    ws = WsClient(env.stack.ws_url, token)
    try:
        (mid,), _ = _send(ws, FREE)
        ws.until(lambda f: f["type"] == "chunk" and f["seq"] == 3)
        env.stack.kill_worker()  # no beat runs here: the web process must notice
        killed = time.monotonic()
        end = _final(ws, mid, timeout=30)
        took = time.monotonic() - killed
    finally:
        ws.close()
        env.stack.start_worker()
        env.stack.wait_healthy()
    assert end["type"] == "error" and end["code"] == "STREAM_INTERRUPTED", end
    print(f"killed worker: client told after {took:.1f} s")
    assert took <= 10.0, f"the client waited {took:.1f} s"
    msg = ChatMessage.objects(id=mid).first()
    assert msg.status == "interrupted" and msg.content.startswith("k0 k1 k2 ")
    _wallet_closed(uid, 0)
