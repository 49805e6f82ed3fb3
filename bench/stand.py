"""The stand every streaming benchmark stands on: the processes, the provider, users, meters.

`bench_stack` starts nx-27017 (counting the commands it serves), a redis-server of its own, the
stand-in provider in its own process (`SCENARIO`: 50 ms to the first delta, then 20 deltas 10 ms
apart) and AI Pasta as deployed (gunicorn with the gevent worker, a Celery worker with the gevent
pool, beat). `CpuMeter` and `PeakRss` read processes with psutil; `pct` is the percentile all
the reports use.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from typing import NamedTuple

import psutil
import requests
from flask import Flask

from config import load_settings, use_settings
from tests.fakes.openrouter import FakeOpenRouterClient
from tests.support.services import (
    VENV_BIN,
    Proc,
    RedisServer,
    free_port,
    mongo_server,
    wait_for,
)
from tests.support.stack import Stack

MODEL = "fake/echo"
DELTAS = [f"tok{i} " for i in range(20)]
# Settings the environment may override for an experiment (e.g. SEND_CONCURRENCY=4, or the rate
# limiter on as deployed: RATE_LIMIT_ENABLED=true RATE_LIMIT_API=1000000/minute).
TUNABLES = ("SEND_CONCURRENCY", "RATE_LIMIT_ENABLED", "RATE_LIMIT_API")
SCENARIO = {"deltas": DELTAS, "first_delay": 0.05, "interval": 0.01}


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def web_worker_pid(stack: Stack) -> int:
    master = psutil.Process(stack.web.pid)
    children = master.children()
    return children[0].pid if children else master.pid


def web_rss(pid: int) -> int:
    return psutil.Process(pid).memory_info().rss


class PeakRss:
    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, web_rss(self.pid))
            time.sleep(0.05)


class CpuMeter:
    """CPU seconds (user + system) each named process spends inside the `with` block."""

    def __init__(self, pids: dict[str, int]):
        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.used: dict[str, float] = {}

    @staticmethod
    def _cpu(proc: psutil.Process) -> float:
        total = 0.0
        # This process's children are the services themselves: count it alone.
        children = proc.children(recursive=True) if proc.pid != os.getpid() else []
        for p in [proc, *children]:
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    def __enter__(self):
        self._start = {name: self._cpu(p) for name, p in self.procs.items()}
        return self

    def __exit__(self, *exc):
        self.used = {name: self._cpu(p) - self._start[name] for name, p in self.procs.items()}


def nx_pid(address: str) -> int:
    port = address.rsplit(":", 1)[1]
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if any("nx-27017" in p or "counting_nx" in p for p in cmd) and port in cmd:
            return proc.pid
    raise RuntimeError(f"no nx-27017 process on port {port}")


def make_users(app, count: int) -> list[str]:
    from common.users import service as users
    from common.users.models import User
    from web.security import issue_token

    tokens = []
    with app.app_context():
        for i in range(count):
            user = users.register(
                f"bench{i}-{time.time_ns()}@example.com", "bench-password-1", f"B{i}"
            )
            User.objects(id=user.id).update_one(
                set__subscription__limits__requestsPerDay=100_000, set__emailVerified=True
            )
            tokens.append(issue_token(user))
    return tokens


def start_fake() -> tuple[Proc, FakeOpenRouterClient]:
    port = free_port()
    proc = Proc(
        "bench-fake",
        [str(VENV_BIN / "python"), "-m", "tests.fakes.openrouter", "--port", str(port)],
    )
    client = FakeOpenRouterClient(f"http://127.0.0.1:{port}")
    wait_for(lambda: requests.get(client.root + "/_fake/stats", timeout=1).ok, 30, 0.1, "the fake")
    return proc, client


class BenchStack(NamedTuple):
    app: Flask  # this process's app, for making users and keys
    stack: Stack
    fake: FakeOpenRouterClient
    fake_proc: Proc
    mongo: str  # nx-27017's address (it counts the commands it serves: tests.support.wire)
    redis_url: str  # the stack's own redis-server (its counters are the stack's alone)

    def pids(self) -> dict[str, int]:
        """AI Pasta's processes, each with its children: web (gunicorn master and worker),
        worker(s), beat, nx-27017."""
        stack = self.stack
        pids = {f"web{i or ''}": w.proc.pid for i, w in enumerate(stack.webs)}
        pids |= {f"worker{i or ''}": p.pid for i, p in enumerate(stack.workers)}
        if stack.beat is not None:
            pids["beat"] = stack.beat.pid
        return pids | {"nx-27017": nx_pid(self.mongo)}


@contextlib.contextmanager
def bench_stack(database: str, name: str, **stack_options) -> Iterator[BenchStack]:
    """nx-27017 (counting its commands), a redis-server of its own, the fake provider in its own
    process and the stack (`Stack(settings, name, beat=True, **stack_options)`) on benchmark
    settings: rate limits off, and `TUNABLES` taken from this process's environment. Everything
    stops when the block ends."""
    redis_server = RedisServer().start()
    try:
        with mongo_server(counting=True) as mongo:
            yield from _bench_stack(database, name, mongo, redis_server.url, stack_options)
    finally:
        redis_server.stop()


def _bench_stack(
    database: str, name: str, mongo: str, redis_url: str, stack_options: dict
) -> Iterator[BenchStack]:
    fake_proc, fake = start_fake()
    try:
        env = {
            "APP_ENV": "test",
            "MONGODB_URI": f"mongodb://{mongo}/{database}?directConnection=true",
            "REDIS_URL": redis_url,
            "JWT_SECRET_KEY": "bench-secret-0123456789abcdef0123456789abcdef",
            "RATE_LIMIT_ENABLED": "false",
            "OPENROUTER_BASE_URL": fake.base_url,
            "BCRYPT_ROUNDS": "4",
        }
        env |= {k: os.environ[k] for k in TUNABLES if k in os.environ}
        settings = use_settings(load_settings(env))
        from web import create_app

        app = create_app(settings)
        stack = Stack(settings, name=name, **{"beat": True, **stack_options}).start()
        try:
            yield BenchStack(app, stack, fake, fake_proc, mongo, redis_url)
        finally:
            stack.stop()
    finally:
        fake_proc.stop()


def batch_user(app, free_spent: bool = True):
    """One user on the enterprise plan with purchased tokens for thousands of answers, as a
    batch job's account. `free_spent`: its sign-up grant of free tokens is already spent (a
    debit through the wallet), as a batch job's is after its first minutes — while the free pool
    runs out under many concurrent answers, holds that take its last tokens race each other
    (docs/chat.md, "Holds under concurrency"). Returns the user."""
    from common.payments import subscriptions
    from common.users import service as users
    from common.users.models import User
    from common.wallet import service as wallet

    with app.app_context():
        user = users.register(f"batch-{time.time_ns()}@example.com", "bench-password-1", "Batch")
        subscriptions.apply_purchase(user.id, "bench-order", "enterprise", 30, None)
        User.objects(id=user.id).update_one(
            set__subscription__limits__requestsPerDay=10_000_000, set__emailVerified=True
        )
        wallet.credit(user.id, 500_000_000, f"bench-{user.id}", "bench")
        if free_spent:
            wallet.debit(user.id, 10**9, f"bench-spent-{user.id}", "bench", pools=("free",))
        return User.objects(id=user.id).first()


def token_for(app, user) -> str:
    from web.security import issue_token

    with app.app_context():
        return issue_token(user)
