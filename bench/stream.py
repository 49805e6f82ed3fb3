"""The websocket path (`chat.send` on `/ws`) against a LiteLLM proxy, in one sitting.

The stand is `bench.stand` (nx-27017 counting its commands, a redis-server of its own, the
stand-in provider: 50 ms to the first delta, then 20 deltas 10 ms apart, AI Pasta as deployed
with beat) and LiteLLM (`bench.litellm_proxy`, 2 workers, no database) in front of the same
provider. For each N, round after round: N streams at once straight from the provider and
through LiteLLM (the asyncio SSE client of `bench.sse`, pooled connections), then N `chat.send`s
at once through AI Pasta's websocket, each on its own user's socket, kept open across rounds as
browser tabs keep theirs. A last row sends the largest N from one user's sockets (a user with
many tabs, or a script on one account). Printed as in `bench.openai`: added time to the first
token and the ratio to LiteLLM's, errored streams and lost deltas, CPU per answer, and AI
Pasta's MongoDB commands and Redis round trips per answer. Then, with `--idle`, that many idle
authenticated sockets on the web process and its memory.

Run: `.venv/bin/python -m bench.stream [--n 1 50 200] [--rounds 3] [--idle 1000]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid

import websockets

from bench import litellm_proxy
from bench.sitting import Row, Sitting, report
from bench.sse import StreamResult, Target, burst, one_by_one
from bench.stand import (
    MODEL,
    SCENARIO,
    batch_user,
    bench_stack,
    make_users,
    token_for,
    web_rss,
    web_worker_pid,
)
from tests.support.wire import idle_rates

BODY = {
    "model": MODEL,
    "stream": True,
    "messages": [{"role": "user", "content": "hi"}],
}


class Sockets:
    """One open, authenticated websocket per token, kept across rounds."""

    def __init__(self, ws_url: str, tokens: list[str]):
        self.ws_url, self.tokens = ws_url, tokens
        self.socks: list = []

    async def open(self) -> Sockets:
        for i in range(0, len(self.tokens), 100):
            batch = self.tokens[i : i + 100]
            self.socks += await asyncio.gather(
                *(websockets.connect(f"{self.ws_url}?token={t}", max_size=None) for t in batch)
            )
        return self

    async def close(self) -> None:
        await asyncio.gather(*(s.close() for s in self.socks), return_exceptions=True)

    async def send(self, i: int) -> StreamResult:
        """One `chat.send` on socket `i`, timed from the send to the first chunk."""
        ws, out = self.socks[i % len(self.socks)], StreamResult()
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
        last = None
        try:
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 300))
                if frame["type"] == "chunk":
                    last = time.perf_counter()
                    out.ttft = out.ttft if out.ttft is not None else last - t0
                    out.deltas.append(frame["delta"])
                elif frame["type"] == "done":
                    break
                elif frame["type"] in ("error", "cancelled"):
                    out.error = f"{frame['type']}: {frame.get('code')} {frame.get('message')}"
                    return out
        except (TimeoutError, websockets.WebSocketException) as exc:
            out.error = f"{type(exc).__name__}: {exc}"[:200]
            return out
        if out.ttft is None:
            out.error = "no chunk"
        else:
            out.phase = last - t0 - out.ttft
        return out

    async def burst(self, n: int) -> list[StreamResult]:
        return list(await asyncio.gather(*(self.send(i) for i in range(n))))

    async def one_by_one(self, count: int) -> list[StreamResult]:
        out = []
        for _ in range(count):
            out.append(await self.send(0))
            await asyncio.sleep(0.02)
        return out


async def hold_idle(ws_url: str, tokens: list[str], web_pid: int) -> tuple[int, float]:
    idle = await Sockets(ws_url, tokens).open()
    await asyncio.sleep(2)
    for s in idle.socks[:: max(1, len(idle.socks) // 20)]:  # alive and authenticated
        await s.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(s.recv(), 30)) == {"type": "pong"}
    rss = web_rss(web_pid) / 2**20
    count = sum(1 for s in idle.socks if s.state.name == "OPEN")
    await idle.close()
    return count, rss


async def sitting(args, bench) -> None:
    from common.catalog.service import sync_provider

    bench.fake.scenario(MODEL, **SCENARIO)
    with bench.app.app_context():
        sync_provider("openrouter")
    top = max(args.n)
    tokens = make_users(bench.app, max(top, args.idle))
    one_user = token_for(bench.app, batch_user(bench.app))
    with litellm_proxy.LiteLLM(bench.fake.base_url, MODEL) as litellm:
        direct = Target("direct", bench.fake.base_url + "/chat/completions")
        lite = Target("litellm", litellm.url)
        users = await Sockets(bench.stack.ws_url, tokens[:top]).open()
        same = await Sockets(bench.stack.ws_url, [one_user] * top).open()
        await direct.__aenter__()
        await lite.__aenter__()
        try:
            await direct.warm(top, BODY, [None])
            await lite.warm(top, BODY, [litellm_proxy.HEADERS])
            await users.burst(top)
            await same.burst(top)
            print("measuring idle traffic ...", flush=True)
            # In a thread: the loop must keep answering the server's pings on the open sockets
            # (a minute of a blocked loop and the server closes them: 1008 Ping/Pong timeout).
            idle = await asyncio.to_thread(
                idle_rates, bench.mongo, bench.redis_url, args.idle_seconds
            )
            run = Sitting(bench, litellm.proc.pid, idle)

            def runners(sockets: Sockets) -> dict:
                async def from_provider(n: int):
                    if n == 1:
                        return await one_by_one(direct, BODY, args.rounds_1)
                    return await burst(direct, BODY, [None] * n)

                async def through_litellm(n: int):
                    headers = litellm_proxy.HEADERS
                    if n == 1:
                        return await one_by_one(lite, BODY, args.rounds_1, headers)
                    return await burst(lite, BODY, [headers] * n)

                async def through_pasta(n: int):
                    if n == 1:
                        return await sockets.one_by_one(args.rounds_1)
                    return await sockets.burst(n)

                return {"direct": from_provider, "litellm": through_litellm, "pasta": through_pasta}

            rows = []
            for n in args.n:
                row = Row(f"{n} users" if n > 1 else "one user", n)
                rounds = 1 if n == 1 else args.rounds
                for i in range(rounds):
                    print(f"N={n} round {i + 1}/{rounds}", flush=True)
                    await run.round(row, runners(users))
                rows.append(row)
            if args.one_user:
                row = Row("one user", top)
                for i in range(args.rounds):
                    print(f"N={top}, one user, round {i + 1}/{args.rounds}", flush=True)
                    await run.round(row, runners(same))
                rows.append(row)
        finally:
            await users.close()
            await same.close()
            await direct.__aexit__(None, None, None)
            await lite.__aexit__(None, None, None)
    report(rows)
    if args.idle:
        count, rss = await hold_idle(
            bench.stack.ws_url, tokens[: args.idle], web_worker_pid(bench.stack)
        )
        print(
            f"\nidle sockets: {count}/{args.idle} open and authenticated on one web process; "
            f"web RSS {rss:.1f} MB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1, 50, 200])
    parser.add_argument("--rounds", type=int, default=3, help="rounds at each N > 1")
    parser.add_argument("--rounds-1", type=int, default=20, help="sequential streams at N = 1")
    parser.add_argument("--idle", type=int, default=1000, help="idle sockets to hold (0: skip)")
    # Long enough to average beat's periodic jobs (the reaper every 5 s, mail, apply_pending
    # every minute): what is subtracted from each round as the processes' own traffic.
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--no-one-user", dest="one_user", action="store_false")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}", flush=True)
    with bench_stack("aipasta_bench", "bench") as bench:
        asyncio.run(sitting(args, bench))
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
