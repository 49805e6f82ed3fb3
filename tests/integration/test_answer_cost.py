"""What one answer costs on the wire, counted by the servers themselves (issue 21's targets).

The stack runs as deployed (gunicorn with the gevent worker, a Celery worker) against an
nx-27017 that counts every command it is sent and a redis-server of its own that counts every
request (`tests.support.wire`); what the processes send on their own meanwhile (the worker's
polling, the drivers' monitoring) is measured first and subtracted. The stand-in provider sends
20 deltas 10 ms apart, as the benchmarks' does.

Pinned here: a `/v1` answer at most 7 MongoDB commands (issue 21's target), each answer at most
15 Redis round trips plus one per 50 ms window of streaming (the target), and one key's 50
answers at once do not retry wallet writes in a storm. A websocket answer (its `requestId` an
idempotency key) is pinned at the 9 commands it costs now — the target is 8; docs/operations.md,
"What an answer costs", says which 9 and what would remove the rest.
"""

from __future__ import annotations

import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import requests
from flask import Flask

from common import db
from common.catalog.service import invalidate_cache, sync_provider
from common.users.models import User
from common.wallet import service as wallet
from common.wallet.reconcile import reconcile
from config import Settings, get_settings, use_settings
from tests.support.apps import fresh_app
from tests.support.chatkit import FREE, tokens_of
from tests.support.http import auth
from tests.support.services import RedisServer, mongo_server
from tests.support.stack import Stack
from tests.support.wire import Wire, WireMeter, idle_rates
from tests.support.wsclient import WsClient

DELTAS = [f"tok{i} " for i in range(20)]
SCENARIO = {"deltas": DELTAS, "first_delay": 0.05, "interval": 0.01}
MONGO_V1, MONGO_WS, REDIS_FIXED = 7, 9.5, 15
WINDOW = 0.05  # STREAM_COALESCE_MS: at most one more round trip per window of streaming
# Enough answers that the worker's own polling, subtracted as a rate, blurs a figure by well
# under one round trip per answer (with 6, one stray poll moved it by 0.17 and failed a run).
V1_ANSWERS = 20


def windows(phases: list[float]) -> float:
    """The round trips streaming may add: one per 50 ms window of each answer's streaming
    phase as its client saw it (190 ms at the provider; longer on a busy machine)."""
    return sum(math.ceil(p / WINDOW) for p in phases) / len(phases)


@dataclass
class Counted:
    app: Flask
    stack: Stack
    mongo: str
    redis_url: str
    settings: Settings

    def use(self) -> None:
        """This process on the counted stores (each test starts on the session's)."""
        use_settings(self.settings)
        db.connect(self.settings.mongodb_uri)

    def measure(self, answers: int, run) -> Wire:
        """Per answer, what `run()` (that many answers, then a second to settle) sent, less
        what the processes send on their own in as long."""
        idle = idle_rates(self.mongo, self.redis_url, 3.0)
        with WireMeter(self.mongo, self.redis_url) as meter:
            run()
            time.sleep(1.0)
        return meter.result.minus_idle(idle).per(answers)


@pytest.fixture(scope="module")
def counted(fake, base_settings):
    redis_server = RedisServer().start()
    try:
        with mongo_server(counting=True) as mongo:
            overrides = {
                "mongodb_uri": f"mongodb://{mongo}/aipasta_cost?directConnection=true",
                "redis_url": redis_server.url,
                "openrouter_base_url": fake.base_url,
            }
            with fresh_app(base_settings, **overrides) as app:
                invalidate_cache()
                sync_provider("openrouter")
                stack = Stack(get_settings(), name="answer-cost").start()
                try:
                    yield Counted(app, stack, mongo, redis_server.url, get_settings())
                finally:
                    stack.stop()
    finally:
        redis_server.stop()


def register(stack: Stack) -> tuple[str, str]:
    email = f"cost-{time.time_ns()}@example.com"
    body = {"email": email, "password": "correct-horse-1", "name": "Cost"}
    res = requests.post(stack.base_url + "/api/auth/register", json=body, timeout=30)
    assert res.status_code == 201, res.text
    user_id = res.json()["data"]["user"]["id"]
    User.objects(id=user_id).update_one(set__emailVerified=True)  # keys need a confirmed address
    return user_id, res.json()["data"]["token"]


def api_key(stack: Stack, token: str) -> str:
    res = requests.post(
        stack.base_url + "/api/user/api-keys",
        json={"name": "cost"},
        headers=auth(token),
        timeout=30,
    )
    assert res.status_code == 201, res.text
    return res.json()["data"]["secret"]


def v1_stream(
    session: requests.Session,
    stack: Stack,
    secret: str,
    max_tokens: int = 200,
    phases: list[float] | None = None,
) -> str:
    body = {
        "model": FREE,
        "stream": True,
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": "hi"}],
    }
    url = stack.base_url + "/v1/chat/completions"
    text, first, last = "", None, None
    with session.post(url, json=body, headers=auth(secret), stream=True, timeout=60) as res:
        assert res.status_code == 200, res.text
        for line in res.iter_lines():
            if line.startswith(b"data: {"):
                chunk = json.loads(line[6:])
                assert "error" not in chunk, chunk
                for choice in chunk.get("choices") or []:
                    content = (choice.get("delta") or {}).get("content") or ""
                    if content:
                        last = time.monotonic()
                        first = first or last
                    text += content
    if phases is not None and first is not None:
        phases.append(last - first)
    return text


def test_a_v1_answer_costs_at_most_7_commands_and_15_round_trips_and_its_windows(counted, fake):
    fake.scenario(FREE, **SCENARIO)
    counted.use()
    _, token = register(counted.stack)
    secret = api_key(counted.stack, token)
    with requests.Session() as session:
        for _ in range(2):  # connections, caches and the key's check warm
            assert v1_stream(session, counted.stack, secret) == "".join(DELTAS)

        phases: list[float] = []

        def answers():
            for _ in range(V1_ANSWERS):
                assert v1_stream(session, counted.stack, secret, phases=phases) == "".join(DELTAS)

        per = counted.measure(V1_ANSWERS, answers)
    assert per.mongo_total <= MONGO_V1, per.mongo
    assert per.mongo.get("insert chatsessions", 0) <= 0.1, per.mongo  # an API record, no chat
    assert per.redis_round_trips <= REDIS_FIXED + windows(phases), (phases, per.redis_commands)
    assert reconcile() == []


def test_a_websocket_answer_costs_at_most_9_commands_and_15_round_trips_and_its_windows(
    counted, fake
):
    fake.scenario(FREE, **SCENARIO)
    counted.use()
    _, token = register(counted.stack)
    client = WsClient(counted.stack.ws_url, token)
    try:
        phases: list[float] = []

        def one() -> None:
            client.frames.clear()
            client.chunk_times.clear()
            client.send(
                type="chat.send", requestId=f"r{time.time_ns()}", message="hi", models=[FREE]
            )
            accepted = client.until(lambda f: f["type"] in ("accepted", "error"))
            assert accepted["type"] == "accepted", accepted
            mid = accepted["messages"][0]["messageId"]
            assert client.finals([mid])[mid]["type"] == "done"
            assert "".join(f["delta"] for f in client.chunks(mid)) == "".join(DELTAS)
            phases.append(client.chunk_times[-1] - client.chunk_times[0])

        for _ in range(2):
            one()

        def answers():
            for _ in range(6):
                one()

        per = counted.measure(6, answers)
    finally:
        client.close()
    assert per.mongo_total <= MONGO_WS, per.mongo
    assert per.redis_round_trips <= REDIS_FIXED + windows(phases), (phases, per.redis_commands)
    assert reconcile() == []


def test_one_keys_50_answers_at_once_do_not_storm_the_wallet(counted, fake):
    """The free pool runs out during the burst (50 holds of ~300 tokens against 10,000 free):
    each hold writes once, or twice when another write changed the pools under it, and each
    settlement once — at most 150 updates of the user's document, where a retry storm made
    several hundred."""
    fake.scenario(FREE, **SCENARIO)
    counted.use()
    user_id, token = register(counted.stack)
    wallet.credit(user_id, 1_000_000, f"bought-{user_id}", "test")
    User.objects(id=user_id).update_one(set__subscription__limits__requestsPerDay=1000)
    secret = api_key(counted.stack, token)
    with requests.Session() as warm:
        v1_stream(warm, counted.stack, secret, max_tokens=300)

    def one(_):
        with requests.Session() as session:
            return v1_stream(session, counted.stack, secret, max_tokens=300)

    def burst():
        with ThreadPoolExecutor(50) as pool:
            assert set(pool.map(one, range(50))) == {"".join(DELTAS)}

    per = counted.measure(50, burst)
    assert per.mongo.get("findAndModify users", 0) <= 3.0, per.mongo
    assert per.mongo.get("find users", 0) <= 0.5, per.mongo
    assert tokens_of(user_id)["reserved"] == 0
    assert reconcile() == []
