"""Fan-out cost with two web processes: what an idle web process pays for another's streams.

Starts the fleet (two gunicorn masters of one gevent worker each, one Celery worker) and runs N
concurrent answers of D deltas, every socket on web 1, while web 2 holds one idle socket. Prints
each web process's CPU during the run and, where the code exports it, the pub/sub messages each
received. With one pattern subscription per process (before), web 2 received every chunk of
every answer; with per-message subscriptions (now), it receives none.

Run: `.venv/bin/python -m bench.fanout [--n 200] [--deltas 30]`. To measure the code before a
change, run this file from an export of that commit (`git archive <commit> | tar -x -C DIR`).
"""

from __future__ import annotations

import argparse
import asyncio
import json

import psutil
import requests
import websockets

from bench.stand import CpuMeter, bench_stack, make_users

MODEL = "fake/echo"


async def answer(ws_url: str, token: str, go: asyncio.Event) -> int:
    async with websockets.connect(f"{ws_url}?token={token}", max_size=None) as ws:
        await go.wait()
        await ws.send(json.dumps({"type": "chat.send", "message": "hi", "models": [MODEL]}))
        chunks = 0
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 300))
            if frame["type"] == "chunk":
                chunks += 1
            elif frame["type"] in ("done", "error", "cancelled"):
                return chunks


async def run(busy_url: str, idle_url: str, tokens: list[str]) -> list[int]:
    go = asyncio.Event()
    async with websockets.connect(f"{idle_url}?token={tokens[0]}"):
        tasks = [asyncio.create_task(answer(busy_url, t, go)) for t in tokens]
        await asyncio.sleep(1.0 + len(tokens) * 0.01)
        go.set()
        return await asyncio.gather(*tasks)


def received(base_url: str) -> str:
    text = requests.get(base_url + "/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith("aipasta_stream_messages_received_total"):
            return line.split()[-1]
    return "n/a (not exported by this code)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--deltas", type=int, default=30)
    args = parser.parse_args()
    with bench_stack("aipasta_fanout", "fanout", webs=2, workers=1) as bench:
        app, stack, fake, fake_proc, mongo = bench
        fake.scenario(MODEL, deltas=[f"t{i} " for i in range(args.deltas)], interval=0.02)
        from common.catalog.service import sync_provider

        sync_provider("openrouter")
        tokens = make_users(app, args.n)
        busy, idle = stack.webs
        pids = {
            "web 1 (all sockets)": psutil.Process(busy.proc.pid).children()[0].pid,
            "web 2 (one idle socket)": psutil.Process(idle.proc.pid).children()[0].pid,
        }
        with CpuMeter(pids) as meter:
            chunks = asyncio.run(run(busy.ws_url, idle.ws_url, tokens))
        print(
            f"{args.n} answers x {args.deltas} deltas through web 1; "
            f"chunks received {sum(chunks)} of {args.n * args.deltas}"
        )
        for (name, seconds), web in zip(meter.used.items(), (busy, idle), strict=True):
            print(
                f"  {name:>24}: CPU {seconds * 1000:8.0f} ms; "
                f"pub/sub messages received {received(web.base_url)}"
            )


if __name__ == "__main__":
    main()
