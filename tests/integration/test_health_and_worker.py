"""`GET /health` with and without a real Celery worker process, and a task round trip."""

from __future__ import annotations

import os
import threading

import pytest

from tests.support.apps import fresh_app
from tests.support.services import VENV_BIN, Proc, free_port, wait_for


def checks_of(res) -> dict:
    return res.get_json()["data"]["checks"]


def test_health_without_a_worker_is_503_naming_it(client):
    res = client.get("/health")
    body = res.get_json()
    assert res.status_code == 503, body
    assert (body["status"], body["code"]) == ("error", "SERVICE_UNAVAILABLE")
    assert body["details"]["down"] == ["worker"]
    assert "worker" in body["message"]
    checks = checks_of(res)
    assert {k: v["status"] for k, v in checks.items()} == {
        "mongodb": "up",
        "redis": "up",
        "broker": "up",
        "worker": "down",
    }


def test_health_with_mongodb_down_names_it(base_settings):
    closed = f"mongodb://127.0.0.1:{free_port()}/aipasta_down?directConnection=true"
    with fresh_app(base_settings, mongodb_uri=closed) as app:
        res = app.test_client().get("/health")
    body = res.get_json()
    assert res.status_code == 503, body
    assert "mongodb" in body["details"]["down"]
    assert checks_of(res)["redis"]["status"] == "up"


def test_health_with_redis_down_names_it(base_settings):
    closed = f"redis://127.0.0.1:{free_port()}/0"
    with fresh_app(base_settings, redis_url=closed) as app:
        res = app.test_client().get("/health")
    body = res.get_json()
    assert res.status_code == 503, body
    assert {"redis", "broker"} <= set(body["details"]["down"])
    assert checks_of(res)["mongodb"]["status"] == "up"


@pytest.fixture
def worker(base_settings):
    env = {
        "APP_ENV": "test",
        "MONGODB_URI": base_settings.mongodb_uri,
        "REDIS_URL": base_settings.redis_url,
        "JWT_SECRET_KEY": base_settings.jwt_secret_key,
        "LOG_LEVEL": "INFO",
    }
    env = {**env, "CELERY_BROKER_URL": "", "CELERY_RESULT_BACKEND": ""}
    cmd = [
        str(VENV_BIN / "celery"),
        "-A",
        "worker.celery_app",
        "worker",
        "-Q",
        "default,chat",
        "--pool",
        "threads",
        "-c",
        "2",
        "-n",
        f"health-test-{os.getpid()}@%h",
        "--without-gossip",
        "--without-mingle",
    ]
    proc = Proc("celery-health", cmd, env)
    try:
        yield proc
    finally:
        proc.stop(timeout=20)


def test_health_is_200_with_a_worker_and_ping_round_trips(client, worker, base_settings):
    def healthy():
        if not worker.alive():
            raise RuntimeError(f"worker exited:\n{worker.log_tail()}")
        return client.get("/health").status_code == 200

    wait_for(healthy, timeout=90, interval=0.5, what="the worker to answer /health")
    res = client.get("/health")
    checks = checks_of(res)
    assert res.get_json()["status"] == "success"
    assert {k: v["status"] for k, v in checks.items()} == dict.fromkeys(checks, "up")
    assert set(checks) == {"mongodb", "redis", "broker", "worker"}
    assert checks["worker"]["count"] >= 1

    from worker.celery_app import make_celery

    celery = make_celery()  # built from the session's settings (its private Redis database)
    result = celery.send_task("system.ping").get(timeout=60)
    assert result["pong"] is True
    assert result["pid"] != os.getpid()


def test_task_events_reach_a_monitor_as_flower_reads_them(worker, base_settings):
    """What operators watch in Flower: a receiver on the broker gets each task's received,
    started and succeeded events from a real worker."""
    from worker.celery_app import make_celery

    celery = make_celery()
    seen: list[dict] = []
    with celery.connection_for_read() as conn:
        receiver = celery.events.Receiver(conn, handlers={"*": seen.append})
        listener = threading.Thread(target=receiver.capture, kwargs={"wakeup": True}, daemon=True)
        listener.start()
        try:
            # Any event (the worker's heartbeat, which `wakeup` asks for) shows the receiver is
            # subscribed: events published before that would be missed, as by a late Flower.
            wait_for(lambda: seen, 90, 0.1, "the receiver to hear the worker")
            task_id = celery.send_task("system.ping").id

            def events_of_task():
                return {e["type"] for e in seen if e.get("uuid") == task_id}

            wanted = {"task-received", "task-started", "task-succeeded"}
            wait_for(lambda: wanted <= events_of_task(), 30, 0.1, "the task's events")
        finally:
            receiver.should_stop = True
    listener.join(timeout=5)


def test_task_events_travel_in_batches(worker, base_settings):
    """The worker buffers task events (worker/events.py): several tasks' events reach the
    broker as a few `task.multi` publishes, not one publish per event."""
    import base64
    import json

    import redis

    from worker.celery_app import make_celery

    celery = make_celery()
    pubsub = redis.Redis.from_url(base_settings.redis_url).pubsub()
    pubsub.psubscribe("*celeryev/task.*")
    try:
        wait_for(lambda: worker.alive() and celery.control.ping(timeout=1), 90, 0.5, "a worker")
        results = [celery.send_task("system.ping") for _ in range(5)]
        for r in results:
            r.get(timeout=60)
        ids = {r.id for r in results}
        channels: list[str] = []
        events: list[dict] = []

        def heard_all() -> bool:
            while (msg := pubsub.get_message(timeout=0.1)) is not None:
                if msg["type"] != "pmessage":
                    continue
                channels.append(msg["channel"].decode())
                body = json.loads(base64.b64decode(json.loads(msg["data"])["body"]))
                events.extend(body if isinstance(body, list) else [body])
            mine = {(e["uuid"], e["type"]) for e in events if e.get("uuid") in ids}
            return len(mine) == 15

        wait_for(heard_all, 30, 0.05, "the tasks' received, started and succeeded events")
        assert channels and all(c.endswith("task.multi") for c in channels), channels
        assert len(channels) < 15, f"{len(channels)} publishes for 15 events: not batched"
    finally:
        pubsub.close()
