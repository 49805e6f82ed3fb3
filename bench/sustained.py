"""Sustained streaming across a fleet, against LiteLLM: N concurrent answers of D deltas, I ms apart.

Starts the stand (`bench.stand`) with two gunicorn masters (one gevent worker each), two Celery
workers (gevent pool) and beat, the stand-in provider stamping each delta with the time it sends
it, and LiteLLM (`bench.litellm_proxy`, 2 workers, no database) in front of the same provider.

AI Pasta: N websockets — half on each web process, each its own user — send one answer each at
once. The provider holds every stream until all N have reached it, then releases them together,
so N answers really stream at the same time. LiteLLM: then N SSE streams through the proxy
(`bench.sse`), held and released the same way. Printed for both: per delta, the delay from the
provider's send to the client's receive (p50/p90/p99/max), lost and duplicated deltas, outcomes
and CPU per answer for every process; for AI Pasta also the MongoDB commands and Redis round
trips per answer and how many pub/sub messages each web process received.

`--soak-minutes M` then keeps `--soak-n` answers streaming through AI Pasta for M minutes (each
socket sends its next answer as its last one ends) and samples the resident memory of every
process every 10 s: after the first `--warm-up-minutes`, each should stay within 10 %.

Run: `.venv/bin/python -m bench.sustained [--n 500] [--deltas 60] [--interval-ms 100]
[--soak-minutes 10 --soak-n 100]`. The machine's cores are shared by every process listed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import threading
import time

import psutil
import requests
import websockets
from prometheus_client.parser import text_string_to_metric_families

from bench import litellm_proxy
from bench.sse import Target
from bench.stand import CpuMeter, bench_stack, make_users, pct
from tests.support.wire import WireMeter, idle_rates

MODEL = "fake/echo"
STAMP = re.compile(r"^(tok\d+ )@(\d+\.\d+)\|$")


# -- AI Pasta -------------------------------------------------------------------------------------


async def one_answer(ws, go: asyncio.Event, deltas: int) -> dict:
    delays: list[float] = []
    seqs: list[int] = []
    await go.wait()
    message = {"type": "chat.send", "requestId": os.urandom(8).hex(), "message": "hi"}
    await ws.send(json.dumps({**message, "models": [MODEL]}))
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


async def open_sockets(urls: list[str], tokens: list[str]) -> list:
    """Every socket, 100 at a time (as a population of users would, not all in one ms)."""
    targets = [f"{urls[i % len(urls)]}?token={t}" for i, t in enumerate(tokens)]
    socks = []
    for i in range(0, len(targets), 100):
        batch = [websockets.connect(url, max_size=None) for url in targets[i : i + 100]]
        socks += await asyncio.gather(*batch, return_exceptions=True)
    return socks


async def run_pasta(urls: list[str], tokens: list[str], deltas: int) -> list:
    socks = await open_sockets(urls, tokens)
    go = asyncio.Event()
    live = [ws for ws in socks if not isinstance(ws, BaseException)]
    tasks = [asyncio.create_task(one_answer(ws, go, deltas)) for ws in live]
    go.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.gather(*(ws.close() for ws in live), return_exceptions=True)
    return [ws for ws in socks if isinstance(ws, BaseException)] + list(results)


# -- LiteLLM --------------------------------------------------------------------------------------


async def run_litellm(url: str, n: int, deltas: int) -> list:
    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    async with Target("litellm", url) as target:
        got = await asyncio.gather(
            *(target.stream(body, litellm_proxy.HEADERS) for _ in range(n)), return_exceptions=True
        )
    out = []
    for r in got:
        if isinstance(r, BaseException) or r.error:
            out.append(r if isinstance(r, BaseException) else RuntimeError(r.error))
            continue
        delays = []
        for text, at in zip(r.deltas, r.arrivals, strict=True):
            stamped = STAMP.match(text)
            if stamped:
                delays.append(at - float(stamped.group(2)))
        lost = deltas - len(r.deltas)
        out.append({"delays": delays, "lost": max(0, lost), "dup": max(0, -lost), "final": "done"})
    return out


# -- measuring ------------------------------------------------------------------------------------


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


def held_scenario(fake, args) -> None:
    fake.reset()
    fake.scenario(
        MODEL,
        deltas=[f"tok{i} " for i in range(args.deltas)],
        interval=args.interval_ms / 1000,
        stamp=True,
        hold=True,  # every stream waits for the release: all N stream at once
    )


def timed(fake, n: int, pids: dict[str, int], run) -> tuple[list, dict[str, float], float]:
    """`run()` with the provider releasing its streams once all `n` are open."""
    started = time.monotonic()
    releaser = threading.Thread(target=release_when_all_open, args=(fake, n))
    releaser.start()
    with CpuMeter(pids) as meter:
        results = run()
    releaser.join()
    return results, meter.used, time.monotonic() - started


def report(title: str, n: int, deltas: int, results: list, cpu: dict, wall: float) -> None:
    failed = [r for r in results if isinstance(r, BaseException)]
    ok = [r for r in results if not isinstance(r, BaseException)]
    delays = [d * 1000 for r in ok for d in r["delays"]]
    finals: dict[str, int] = {}
    for r in ok:
        finals[r["final"]] = finals.get(r["final"], 0) + 1
    print(f"\n== {title}: {n} concurrent answers x {deltas} deltas; wall {wall:.1f} s")
    print(
        f"answers: {finals}; client failures: {len(failed)} {[repr(f)[:120] for f in failed[:3]]}"
    )
    print(
        f"deltas received: {len(delays)} of {n * deltas}; lost {sum(r['lost'] for r in ok)}, "
        f"duplicated {sum(r['dup'] for r in ok)}"
    )
    if delays:
        print(
            "provider send -> client receive per delta: "
            f"p50 {statistics.median(delays):.1f} ms, p90 {pct(delays, 90):.1f} ms, "
            f"p99 {pct(delays, 99):.1f} ms, max {max(delays):.1f} ms"
        )
    total = sum(cpu.values())
    print(f"CPU per answer (ms), each process (own processes together: {total * 1000 / n:.1f}):")
    for name, seconds in cpu.items():
        print(
            f"  {name:>14}: {seconds * 1000 / n:7.1f}   "
            f"(total {seconds:.1f} s, {seconds / wall * 100:.0f}% of a core)"
        )


def pasta_pids(bench) -> dict[str, int]:
    stack = bench.stack
    pids = {f"web {i + 1}": w.proc.pid for i, w in enumerate(stack.webs)}
    pids |= {f"worker {i + 1}": p.pid for i, p in enumerate(stack.workers)}
    return pids | {"beat": stack.beat.pid, "nx-27017": bench.pids()["nx-27017"]}


# -- soak -----------------------------------------------------------------------------------------


def rss_of(pid: int) -> int:
    """Resident memory of a process and its children (a gunicorn master and its worker)."""
    proc = psutil.Process(pid)
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


async def soak(urls: list[str], tokens: list[str], minutes: float, pids: dict[str, int]) -> list:
    """Each socket sends its next answer as its last one ends, for `minutes`; RSS every 10 s."""
    socks = [s for s in await open_sockets(urls, tokens) if not isinstance(s, BaseException)]
    deadline = time.monotonic() + minutes * 60
    counts = {"done": 0, "other": 0}
    samples: list[tuple[float, dict[str, int]]] = []
    started = time.monotonic()

    async def keep_busy(ws) -> None:
        while time.monotonic() < deadline:
            go = asyncio.Event()
            go.set()
            result = await one_answer(ws, go, 0)
            counts["done" if result["final"] == "done" else "other"] += 1

    async def sample() -> None:
        while time.monotonic() < deadline:
            samples.append((time.monotonic() - started, {k: rss_of(p) for k, p in pids.items()}))
            await asyncio.sleep(10)

    await asyncio.gather(*(keep_busy(ws) for ws in socks), sample())
    await asyncio.gather(*(ws.close() for ws in socks), return_exceptions=True)
    print(f"\n== soak: {len(socks)} concurrent for {minutes:g} min: answers {counts}")
    return samples


def soak_report(samples: list, warm_up_minutes: float) -> None:
    after = [(t, rss) for t, rss in samples if t >= warm_up_minutes * 60]
    if len(after) < 2:
        print("soak too short for a memory verdict")
        return
    print(f"resident memory after {warm_up_minutes:g} min of warm-up (MB):")
    for name in after[0][1]:
        first, last = after[0][1][name], after[-1][1][name]
        peak = max(rss[name] for _, rss in after)
        growth = (peak - first) / first * 100
        verdict = "flat" if growth <= 10 else "GROWS"
        print(
            f"  {name:>10}: {first / 2**20:7.1f} -> {last / 2**20:7.1f}, "
            f"peak {peak / 2**20:7.1f} ({growth:+.1f} %) {verdict}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--deltas", type=int, default=60)
    parser.add_argument("--interval-ms", type=float, default=100.0)
    parser.add_argument("--no-litellm", dest="litellm", action="store_false")
    parser.add_argument("--soak-minutes", type=float, default=0.0)
    parser.add_argument("--soak-n", type=int, default=100)
    parser.add_argument("--warm-up-minutes", type=float, default=2.0)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}", flush=True)
    with bench_stack("aipasta_sustained", "sustained", webs=2, workers=2) as bench:
        from common.catalog.service import sync_provider

        held_scenario(bench.fake, args)
        with bench.app.app_context():
            sync_provider("openrouter")
        tokens = make_users(bench.app, max(args.n, args.soak_n))
        pids = pasta_pids(bench)
        urls = [w.ws_url for w in bench.stack.webs]
        idle = idle_rates(bench.mongo, bench.redis_url, 10)
        before = [stream_messages(w.base_url) or 0 for w in bench.stack.webs]
        with WireMeter(bench.mongo, bench.redis_url) as wire:
            results, cpu, wall = timed(
                bench.fake,
                args.n,
                pids,
                lambda: asyncio.run(run_pasta(urls, tokens[: args.n], args.deltas)),
            )
            time.sleep(1)
        after = [stream_messages(w.base_url) or 0 for w in bench.stack.webs]
        report("AI Pasta (websocket)", args.n, args.deltas, results, cpu, wall)
        per = wire.result.minus_idle(idle).per(args.n)
        print(
            f"on the wire per answer: MongoDB {per.mongo_total:.2f} commands, "
            f"Redis {per.redis_round_trips:.1f} round trips"
        )
        print(
            "pub/sub messages received per web process: "
            + ", ".join(
                f"web {i + 1} {int(a - b)}"
                for i, (a, b) in enumerate(zip(after, before, strict=True))
            )
        )
        if args.litellm:
            with litellm_proxy.LiteLLM(bench.fake.base_url, MODEL) as litellm:
                # Its connections to the provider opened and its code warm, as AI Pasta's are.
                bench.fake.reset()
                bench.fake.scenario(MODEL, deltas=["w"], interval=0)
                asyncio.run(run_litellm(litellm.url, args.n, 1))
                held_scenario(bench.fake, args)
                lite = {"litellm": litellm.proc.pid}
                results, cpu, wall = timed(
                    bench.fake,
                    args.n,
                    lite,
                    lambda: asyncio.run(run_litellm(litellm.url, args.n, args.deltas)),
                )
                report("LiteLLM (SSE)", args.n, args.deltas, results, cpu, wall)
        if args.soak_minutes:
            bench.fake.reset()
            bench.fake.scenario(
                MODEL,
                deltas=[f"tok{i} " for i in range(args.deltas)],
                interval=args.interval_ms / 1000,
            )
            samples = asyncio.run(soak(urls, tokens[: args.soak_n], args.soak_minutes, {**pids}))
            soak_report(samples, args.warm_up_minutes)
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
