"""Sustained streaming across a fleet: N concurrent answers of D deltas, I ms apart.

Starts nx-27017, a private Redis database, the fake OpenRouter in its own process (stamping each
delta with the time it sends it), two gunicorn masters (one gevent worker each) and two Celery
workers (gevent pool), then opens N websockets — half on each web process, each its own user —
and sends one answer on each at once. The fake holds every stream until all N have reached it,
then releases them together, so N answers really stream at the same time. Prints, per delta, the delay from the provider's send to
the client's receive (p50/p90/p99/max), lost and duplicated deltas, the answers' outcomes, CPU
per answer for every process (AI Pasta's and the harness's), and how many pub/sub messages each
web process received (per-message subscriptions: about its own half).

Run: `.venv/bin/python -m bench.sustained [--n 500] [--deltas 60] [--interval-ms 100]`.
The machine's cores are shared by every process listed: read the figures with that in mind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import threading
import time

import requests
import websockets
from prometheus_client.parser import text_string_to_metric_families

from bench.stand import CpuMeter, bench_stack, make_users, nx_pid, pct

MODEL = "fake/echo"
STAMP = re.compile(r"^(tok\d+ )@(\d+\.\d+)\|$")


async def one_answer(ws, go: asyncio.Event, deltas: int) -> dict:
    delays: list[float] = []
    seqs: list[int] = []
    await go.wait()
    message = {"type": "chat.send", "requestId": "s", "message": "hi", "models": [MODEL]}
    await ws.send(json.dumps(message))
    final = None
    while final is None:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 300))
        now = time.time()
        if frame["type"] == "chunk":
            seqs.append(frame["seq"])
            stamped = STAMP.match(frame["delta"])
            if stamped:
                delays.append(now - float(stamped.group(2)))
        elif frame["type"] in ("done", "cancelled"):
            final = frame["type"]
        elif frame["type"] == "error":
            final = f"error {frame.get('code')}"
    lost = len(set(range(1, deltas + 1)) - set(seqs))
    return {"delays": delays, "lost": lost, "dup": len(seqs) - len(set(seqs)), "final": final}


async def run(urls: list[str], tokens: list[str], deltas: int) -> list[dict]:
    """Connect every socket first (100 at a time, as a population of users would, not all in
    the same millisecond), then send every answer at once."""
    targets = [f"{urls[i % len(urls)]}?token={t}" for i, t in enumerate(tokens)]
    socks = []
    for i in range(0, len(targets), 100):
        batch = [websockets.connect(url, max_size=None) for url in targets[i : i + 100]]
        socks += await asyncio.gather(*batch, return_exceptions=True)
    go = asyncio.Event()
    tasks = [
        asyncio.create_task(one_answer(ws, go, deltas))
        for ws in socks
        if not isinstance(ws, BaseException)
    ]
    go.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.gather(
        *(ws.close() for ws in socks if not isinstance(ws, BaseException)), return_exceptions=True
    )
    return [ws for ws in socks if isinstance(ws, BaseException)] + list(results)


def release_when_all_open(fake, n: int, patience: float = 120.0) -> None:
    """Release the held streams once all N are open at the provider (or none has opened for
    `patience` seconds: then whatever is open goes, and the report says how many)."""
    last, since = -1, time.monotonic()
    while True:
        active = fake.stats()["active_streams"]
        if active >= n or time.monotonic() - since > patience:
            break
        if active != last:
            last, since = active, time.monotonic()
        time.sleep(0.2)
    print(f"{active} provider streams open; releasing them", flush=True)
    fake.release()


def stream_messages(base_url: str) -> float | None:
    try:
        text = requests.get(base_url + "/metrics", timeout=10).text
    except requests.RequestException:
        return None
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "aipasta_stream_messages_received_total":
                return s.value
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--deltas", type=int, default=60)
    parser.add_argument("--interval-ms", type=float, default=100.0)
    args = parser.parse_args()
    with bench_stack("aipasta_sustained", "sustained", webs=2, workers=2) as bench:
        app, stack, fake, fake_proc, mongo = bench
        fake.scenario(
            MODEL,
            deltas=[f"tok{i} " for i in range(args.deltas)],
            interval=args.interval_ms / 1000,
            stamp=True,
            hold=True,  # every stream waits for the release: all N stream at once
        )
        from common.catalog.service import sync_provider

        sync_provider("openrouter")
        tokens = make_users(app, args.n)
        import psutil

        webs = {
            f"web {i + 1}": psutil.Process(w.proc.pid).children()[0].pid
            for i, w in enumerate(stack.webs)
        }
        pids = {**webs, **{f"worker {i + 1}": p.pid for i, p in enumerate(stack.workers)}}
        pids |= {
            "nx-27017": nx_pid(mongo),
            "fake provider": fake_proc.pid,
            "bench clients": os.getpid(),
        }
        before = [stream_messages(w.base_url) or 0 for w in stack.webs]
        urls = [w.ws_url for w in stack.webs]
        started = time.monotonic()
        releaser = threading.Thread(target=release_when_all_open, args=(fake, args.n))
        releaser.start()
        with CpuMeter(pids) as meter:
            results = asyncio.run(run(urls, tokens, args.deltas))
        releaser.join()
        wall = time.monotonic() - started
        after = [stream_messages(w.base_url) or 0 for w in stack.webs]
        received = [a - b for a, b in zip(after, before, strict=True)]
        report(args, results, meter.used, wall, received)
        print(f"most provider streams open at once: {fake.stats()['max_active_streams']}")


def report(args, results: list, cpu: dict[str, float], wall: float, received: list[float]) -> None:
    failed = [r for r in results if isinstance(r, BaseException)]
    ok = [r for r in results if not isinstance(r, BaseException)]
    delays = [d * 1000 for r in ok for d in r["delays"]]
    finals: dict[str, int] = {}
    for r in ok:
        finals[r["final"]] = finals.get(r["final"], 0) + 1
    expected = args.n * args.deltas
    print(
        f"{args.n} concurrent answers x {args.deltas} deltas, {args.interval_ms:.0f} ms apart, "
        f"over 2 web + 2 worker processes; wall {wall:.1f} s"
    )
    print(
        f"answers: {finals}; client failures: {len(failed)} {[repr(f)[:120] for f in failed[:3]]}"
    )
    print(
        f"deltas received: {len(delays)} of {expected}; lost {sum(r['lost'] for r in ok)}, "
        f"duplicated {sum(r['dup'] for r in ok)}"
    )
    if delays:
        print(
            "provider send -> client receive per delta: "
            f"p50 {statistics.median(delays):.1f} ms, p90 {pct(delays, 90):.1f} ms, "
            f"p99 {pct(delays, 99):.1f} ms, max {max(delays):.1f} ms"
        )
    print("CPU per answer (ms), each process:")
    for name, seconds in cpu.items():
        print(
            f"  {name:>14}: {seconds * 1000 / args.n:7.1f}   (total {seconds:.1f} s, {seconds / wall * 100:.0f}% of a core)"
        )
    print(
        "pub/sub messages received per web process: "
        + ", ".join(f"web {i + 1} {int(n)}" for i, n in enumerate(received))
    )


if __name__ == "__main__":
    main()
