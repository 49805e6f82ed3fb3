"""OpenAI-compatible API benchmark: time to first token and streaming phase through
`/v1/chat/completions` vs the fake provider directly, at 1, 50 and 200 concurrent streams.

Starts everything itself as `bench.stream` does (nx-27017, a private Redis database, the fake
OpenRouter in its own process, gunicorn with one gevent worker, one Celery worker). For each N,
N clients stream one completion each straight from the fake, then N clients (each its own user
and API key) stream one through AI Pasta's `/v1`, with the same plain SSE client (on an already open connection for AI Pasta, see `run`). The fake waits
50 ms, then sends 20 deltas 10 ms apart. Lost or duplicated deltas are counted from the text.
Run: `.venv/bin/python -m bench.openai [--n 1 50 200] [--rounds-1 20]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from bench.stream import (
    DELTAS,
    MODEL,
    SCENARIO,
    CpuMeter,
    PeakRss,
    bench_stack,
    make_users,
    nx_pid,
    pct,
    web_worker_pid,
)
from tests.support import stack as stack_module

BODY = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "hi"}]}


def stream_once(
    session: requests.Session, url: str, headers: dict | None = None
) -> tuple[float, float, list[str]]:
    """One streamed completion: (time to first delta s, streaming phase s, the deltas)."""
    t0 = time.perf_counter()
    first = last = None
    deltas: list[str] = []
    with session.post(url, json=BODY, headers=headers, stream=True, timeout=120) as res:
        res.raise_for_status()
        for line in res.iter_lines():
            if not line.startswith(b"data: ") or line == b"data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if "error" in chunk:
                raise RuntimeError(f"stream ended with {chunk}")
            choices = chunk.get("choices") or []
            content = (choices[0].get("delta") or {}).get("content") if choices else None
            if content:
                last = time.perf_counter()
                first = first or last
                deltas.append(content)
    return first - t0, last - first, deltas


def run(url: str, headers: list[dict | None]) -> dict:
    """All clients at once, started together behind a barrier. A client of AI Pasta (`headers`
    given) first opens its connection with a cheap GET of the models list, as an SDK keeps one
    open and as `bench.stream` connects its sockets before it starts the clock. Direct clients
    open a fresh connection inside the timing, as in `bench.stream`: the fake provider's server
    does not set TCP_NODELAY, so on a reused connection its deltas would wait for delayed ACKs
    (~40 ms) and the baseline would be wrong."""
    start = threading.Barrier(len(headers))
    models_url = url.rsplit("/chat/completions", 1)[0] + "/models"

    def one(h):
        with requests.Session() as session:
            if h is not None:
                session.get(models_url, headers=h, timeout=120).raise_for_status()
            start.wait()
            return stream_once(session, url, h)

    with ThreadPoolExecutor(len(headers)) as pool:
        results = list(pool.map(one, headers))
    lost = sum(len(set(DELTAS) - set(r[2])) for r in results)
    dup = sum(len(r[2]) - len(set(r[2])) for r in results)
    return {
        "ttfd": [r[0] for r in results],
        "phase": [r[1] for r in results],
        "lost": lost,
        "dup": dup,
    }


def make_keys(app, tokens_users: list) -> list[dict]:
    from common.apikeys import service as keys
    from common.audit.service import Actor
    from common.users.models import User

    headers = []
    with app.app_context():
        for user_id in tokens_users:
            user = User.objects(id=user_id).first()
            _, secret = keys.create_key(user, keys.NewKey(name="bench", models=[]), Actor.cli())
            headers.append({"Authorization": f"Bearer {secret}"})
    return headers


def user_ids(app, tokens: list[str]) -> list[str]:
    from flask_jwt_extended import decode_token

    with app.app_context():
        return [decode_token(t)["sub"] for t in tokens]


def merge(into: dict, part: dict) -> None:
    for k in ("ttfd", "phase"):
        into[k] += part[k]
    into["lost"] += part["lost"]
    into["dup"] += part["dup"]


def report(rows: list[dict]) -> None:
    ms = 1000.0
    head = (
        f"{'N':>4} {'samples':>7} | {'TTFT p50 direct':>15} {'/v1':>7} {'added':>7} | "
        f"{'TTFT p99 direct':>15} {'/v1':>7} | {'phase p50 direct':>16} {'/v1':>7} {'ratio':>6} | "
        f"{'lost':>4} {'dup':>4} | {'web peak MB':>11}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        d, p = r["direct"], r["pasta"]
        d50, p50 = statistics.median(d["ttfd"]) * ms, statistics.median(p["ttfd"]) * ms
        s50d, s50p = statistics.median(d["phase"]) * ms, statistics.median(p["phase"]) * ms
        print(
            f"{r['n']:>4} {len(p['ttfd']):>7} | {d50:>13.1f}ms {p50:>5.1f}ms {p50 - d50:>5.1f}ms | "
            f"{pct(d['ttfd'], 99) * ms:>13.1f}ms {pct(p['ttfd'], 99) * ms:>5.1f}ms | "
            f"{s50d:>14.1f}ms {s50p:>5.1f}ms {s50p / s50d:>5.2f}x | "
            f"{p['lost'] + d['lost']:>4} {p['dup'] + d['dup']:>4} | {r['peak'] / 2**20:>11.1f}"
        )
    print("\nCPU per completion through /v1 (ms; the 2 cores are shared by every process listed):")
    for r in rows:
        print(f"  N={r['n']:>4}: " + ", ".join(f"{k} {v:.1f}" for k, v in r["cpu"].items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1, 50, 200])
    parser.add_argument("--rounds", type=int, default=1, help="repeat each N > 1 (pooled)")
    parser.add_argument("--rounds-1", type=int, default=20, help="sequential samples at N = 1")
    args = parser.parse_args()
    # Clients open their connection, then wait for the others (seconds at N = 200):
    # gunicorn's default 2 s keep-alive would close it meanwhile.
    stack_module.WEB_COMMAND = [*stack_module.WEB_COMMAND, "--keep-alive", "120"]
    with bench_stack("aipasta_bench", "bench-openai") as bench:
        app, stack, fake, fake_proc, mongo = bench
        fake.scenario(MODEL, **SCENARIO)
        from common.catalog.service import sync_provider

        sync_provider("openrouter")
        keys = make_keys(app, user_ids(app, make_users(app, max(args.n))))
        direct_url = fake.base_url + "/chat/completions"
        pasta_url = stack.base_url + "/v1/chat/completions"
        pid = web_worker_pid(stack)
        pids = {"web": pid, "worker": stack.worker.pid, "nx-27017": nx_pid(mongo)}
        pids |= {"fake provider": fake_proc.pid, "bench clients": os.getpid()}
        run(direct_url, [None, None])  # warm-up both paths
        run(pasta_url, keys[:2])
        rows = []
        for n in args.n:
            rounds = args.rounds_1 if n == 1 else args.rounds
            pooled = {
                "direct": {"ttfd": [], "phase": [], "lost": 0, "dup": 0},
                "pasta": {"ttfd": [], "phase": [], "lost": 0, "dup": 0},
            }
            cpu = dict.fromkeys(pids, 0.0)
            with PeakRss(pid) as peak:
                for _ in range(rounds):
                    merge(pooled["direct"], run(direct_url, [None] * n))
                    with CpuMeter(pids) as meter:
                        merge(pooled["pasta"], run(pasta_url, keys[:n]))
                    for name, used in meter.used.items():
                        cpu[name] += used
                    time.sleep(0.05)
            per = {k: v * 1000 / (n * rounds) for k, v in cpu.items()}
            rows.append({"n": n, **pooled, "peak": peak.peak, "cpu": per})
        report(rows)


if __name__ == "__main__":
    main()
