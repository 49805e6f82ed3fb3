"""Streaming benchmark: time to first delta and streaming phase, direct vs through AI Pasta.

Starts everything itself (nx-27017, a private Redis database, the fake OpenRouter in its own
process, gunicorn with one gevent worker, one Celery worker), then for each N runs N concurrent
clients straight against the fake provider and N websocket clients through AI Pasta (each its
own user, one `chat.send` each), with the fake waiting 50 ms and then sending 20 deltas 10 ms
apart. Finally it opens 1,000 idle authenticated sockets on the web process and reports its
memory. Run: `.venv/bin/python -m bench.stream [--n 1 50 200] [--idle 1000]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import psutil
import requests
import websockets
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


# -- direct ---------------------------------------------------------------------------------------


def direct_once(base_url: str) -> tuple[float, float, int]:
    """One streamed completion straight from the fake: (ttfd s, streaming s, deltas)."""
    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    t0 = time.perf_counter()
    first = last = None
    count = 0
    with requests.post(base_url + "/chat/completions", json=body, stream=True, timeout=60) as res:
        for line in res.iter_lines():
            if not line.startswith(b"data: ") or line == b"data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            choices = chunk.get("choices") or []
            if choices and (choices[0].get("delta") or {}).get("content"):
                last = time.perf_counter()
                first = first or last
                count += 1
    return first - t0, last - first, count


def run_direct(base_url: str, n: int) -> dict:
    start = threading.Barrier(n)

    def one(_):
        start.wait()
        return direct_once(base_url)

    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(one, range(n)))
    return {
        "ttfd": [r[0] for r in results],
        "phase": [r[1] for r in results],
        "bad": sum(1 for r in results if r[2] != len(DELTAS)),
    }


# -- through AI Pasta -----------------------------------------------------------------------------


async def pasta_once(
    ws_url: str, token: str, go: asyncio.Event
) -> tuple[float, float, int, int, float]:
    async with websockets.connect(f"{ws_url}?token={token}", max_size=None) as ws:
        await go.wait()
        t0 = time.perf_counter()
        await ws.send(
            json.dumps(
                {
                    "type": "chat.send",
                    "requestId": uuid.uuid4().hex,
                    "message": "hi",
                    "models": [MODEL],
                }
            )
        )
        first = last = accepted = None
        seqs: list[int] = []
        text = ""
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 120))
            if frame["type"] == "accepted":
                accepted = time.perf_counter() - t0
            elif frame["type"] == "chunk":
                last = time.perf_counter()
                first = first or last
                seqs.append(frame["seq"])
                text += frame["delta"]
            elif frame["type"] in ("done", "error", "cancelled"):
                if frame["type"] != "done":
                    raise RuntimeError(f"stream ended with {frame}")
                break
        lost = len(set(range(1, len(DELTAS) + 1)) - set(seqs))
        dup = len(seqs) - len(set(seqs))
        if text != "".join(DELTAS):
            lost = max(lost, 1)
        return first - t0, last - first, lost, dup, accepted


async def run_pasta_async(ws_url: str, tokens: list[str]) -> dict:
    go = asyncio.Event()
    tasks = [asyncio.create_task(pasta_once(ws_url, t, go)) for t in tokens]
    await asyncio.sleep(0.5 + len(tokens) * 0.005)  # every socket connected and authenticated
    go.set()
    results = await asyncio.gather(*tasks)
    return {
        "ttfd": [r[0] for r in results],
        "phase": [r[1] for r in results],
        "lost": sum(r[2] for r in results),
        "dup": sum(r[3] for r in results),
        "accepted": [r[4] for r in results],
    }


async def warm_sends(ws_url: str, token: str, count: int) -> list[float]:
    """Time to first delta of `count` sends one after another on one open socket (seconds)."""
    out = []
    async with websockets.connect(f"{ws_url}?token={token}", max_size=None) as ws:
        for i in range(count):
            t0 = time.perf_counter()
            frame = {
                "type": "chat.send",
                "requestId": f"w{i}-{uuid.uuid4().hex}",
                "message": "hi",
                "models": [MODEL],
            }
            await ws.send(json.dumps(frame))
            first = None
            while True:
                got = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if got["type"] == "chunk" and first is None:
                    first = time.perf_counter() - t0
                elif got["type"] in ("done", "error", "cancelled"):
                    break
            out.append(first)
            await asyncio.sleep(0.05)
    return out


async def hold_idle(ws_url: str, tokens: list[str], web_pid: int) -> tuple[int, float]:
    socks = []
    for i in range(0, len(tokens), 100):
        batch = [websockets.connect(f"{ws_url}?token={t}") for t in tokens[i : i + 100]]
        socks += await asyncio.gather(*batch)
    await asyncio.sleep(2)
    for s in socks[:: max(1, len(socks) // 20)]:  # spot-check they are alive and authenticated
        await s.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(s.recv(), 30)) == {"type": "pong"}
    rss = web_rss(web_pid) / 2**20
    open_count = sum(1 for s in socks if s.state.name == "OPEN")
    await asyncio.gather(*(s.close() for s in socks))
    return open_count, rss


# -- the stack ------------------------------------------------------------------------------------


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
            User.objects(id=user.id).update_one(set__subscription__limits__requestsPerDay=100_000)
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


def report(rows: list[dict], idle: tuple[int, int, float] | None) -> None:
    ms = 1000.0
    head = (
        f"{'N':>4} | {'TTFD p50 direct':>15} {'pasta':>7} {'added':>7} | {'TTFD p99 direct':>15} "
        f"{'pasta':>7} {'added':>7} | {'phase p50 direct':>16} {'pasta':>7} | {'phase p99 direct':>16} "
        f"{'pasta':>7} {'ratio':>6} | {'lost':>4} {'dup':>4} | {'web peak MB':>11}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        d, p = r["direct"], r["pasta"]
        d50, p50 = statistics.median(d["ttfd"]) * ms, statistics.median(p["ttfd"]) * ms
        d99, p99 = pct(d["ttfd"], 99) * ms, pct(p["ttfd"], 99) * ms
        s50d, s50p = statistics.median(d["phase"]) * ms, statistics.median(p["phase"]) * ms
        s99d, s99p = pct(d["phase"], 99) * ms, pct(p["phase"], 99) * ms
        print(
            f"{r['n']:>4} | {d50:>13.1f}ms {p50:>5.1f}ms {p50 - d50:>5.1f}ms | {d99:>13.1f}ms "
            f"{p99:>5.1f}ms {p99 - d99:>5.1f}ms | {s50d:>14.1f}ms {s50p:>5.1f}ms | {s99d:>14.1f}ms "
            f"{s99p:>5.1f}ms {s50p / s50d:>5.2f}x | {p['lost']:>4} {p['dup']:>4} | {r['peak'] / 2**20:>11.1f}"
        )
    print(
        "\nTime to the `accepted` frame through AI Pasta (the send's own work, before any delta):"
    )
    for r in rows:
        acc = r["pasta"]["accepted"]
        print(
            f"  N={r['n']:>4}: p10 {pct(acc, 10) * ms:.1f} ms, p50 {pct(acc, 50) * ms:.1f} ms, "
            f"p90 {pct(acc, 90) * ms:.1f} ms"
        )
    print(
        "\nCPU per message through AI Pasta (ms; the 2 cores are shared by every process listed):"
    )
    for r in rows:
        print(f"  N={r['n']:>4}: " + ", ".join(f"{k} {v:.1f}" for k, v in r["cpu"].items()))
    if idle:
        print(
            f"\nidle sockets: {idle[1]}/{idle[0]} open and authenticated on one web process; web RSS {idle[2]:.1f} MB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1, 50, 200])
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=1, help="repeat each N (results pooled)")
    parser.add_argument(
        "--warm", type=int, default=30, help="sequential sends on one open socket (0: skip)"
    )
    args = parser.parse_args()
    with bench_stack("aipasta_bench", "bench") as bench:
        app, stack, fake, fake_proc, mongo = bench
        fake.scenario(MODEL, **SCENARIO)
        from common.catalog.service import sync_provider

        sync_provider("openrouter")
        tokens = make_users(app, max(max(args.n), args.idle))
        pid = web_worker_pid(stack)
        pids = {"web": pid, "worker": stack.worker.pid, "nx-27017": nx_pid(mongo)}
        # Not AI Pasta, but on the same 2 cores: the fake provider and this client.
        pids |= {"fake provider": fake_proc.pid, "bench clients": os.getpid()}
        run_direct(fake.base_url, 2)  # warm-up both paths
        asyncio.run(run_pasta_async(stack.ws_url, tokens[:2]))
        rows = []
        for n in args.n:
            pooled = {
                "direct": {"ttfd": [], "phase": [], "bad": 0},
                "pasta": {"ttfd": [], "phase": [], "lost": 0, "dup": 0, "accepted": []},
            }
            cpu = dict.fromkeys(pids, 0.0)
            with PeakRss(pid) as peak:
                for _ in range(args.rounds):
                    d = run_direct(fake.base_url, n)
                    with CpuMeter(pids) as meter:
                        p = asyncio.run(run_pasta_async(stack.ws_url, tokens[:n]))
                    for name, used in meter.used.items():
                        cpu[name] += used
                    for k in ("ttfd", "phase"):
                        pooled["direct"][k] += d[k]
                        pooled["pasta"][k] += p[k]
                    pooled["pasta"]["lost"] += p["lost"]
                    pooled["pasta"]["dup"] += p["dup"]
                    pooled["pasta"]["accepted"] += p["accepted"]
            per_message = {k: v * 1000 / (n * args.rounds) for k, v in cpu.items()}
            rows.append({"n": n, **pooled, "peak": peak.peak, "cpu": per_message})
        if args.warm:
            direct = [run_direct(fake.base_url, 1)["ttfd"][0] for _ in range(args.warm)]
            warm = asyncio.run(warm_sends(stack.ws_url, tokens[0], args.warm))
            d50, w50 = statistics.median(direct) * 1000, statistics.median(warm) * 1000
            print(
                f"warm socket, {args.warm} sequential sends: TTFD p50 direct {d50:.1f} ms, "
                f"through AI Pasta {w50:.1f} ms, added {w50 - d50:.1f} ms"
            )
        idle = None
        if args.idle:
            count, rss = asyncio.run(hold_idle(stack.ws_url, tokens[: args.idle], pid))
            idle = (args.idle, count, rss)
        report(rows, idle)


if __name__ == "__main__":
    main()
