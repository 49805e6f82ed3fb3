"""`/v1/chat/completions` against a LiteLLM proxy, in one sitting, with the same client.

Starts everything itself: nx-27017 (counting the commands it serves), a redis-server of its own,
the stand-in provider in its own process (50 ms to the first delta, then 20 deltas 10 ms apart),
AI Pasta as deployed (gunicorn with one gevent worker, one Celery worker, beat) and LiteLLM
(`bench.litellm_proxy`: 2 workers, no database) in front of the same provider. One user on the
enterprise plan with one API key sends every AI Pasta stream, as a batch job would; a last row
sends the largest N from as many users, each with a key of its own.

For each N, round after round, the same asyncio SSE client (`bench.sse`, connections pooled and
reused across rounds as SDKs do) streams N completions at once straight from the provider, then
through LiteLLM, then through AI Pasta. Printed: time to the first token added to the provider's
(p50, p99) and AI Pasta's ratio to LiteLLM's, the streaming phase, errored streams and lost
deltas, CPU per answer (all of AI Pasta's processes; LiteLLM's master and workers), and for AI
Pasta what each answer sent over the wire: MongoDB commands (by command and collection) and Redis
round trips, the processes' idle traffic subtracted. `flask reconcile`'s check runs after every
AI Pasta round. `--profile` samples the web and the worker with py-spy during extra rounds at
the largest N and prints their top frames.

Run: `.venv/bin/python -m bench.openai [--n 1 50 200] [--rounds 3] [--rounds-1 20] [--profile]`.
The machine's cores are shared by every process here: compare figures of one sitting only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from bench import litellm_proxy
from bench.profile import Profiles
from bench.sitting import Row, Sitting, report
from bench.sse import Target, burst, one_by_one
from bench.stand import MODEL, SCENARIO, batch_user, bench_stack, make_users
from tests.support.wire import idle_rates

BODY = {
    "model": MODEL,
    "stream": True,
    "stream_options": {"include_usage": True},
    "messages": [{"role": "user", "content": "hi"}],
}


# -- users and keys -------------------------------------------------------------------------------


def batch_key(app, free_spent: bool = True) -> dict:
    """The headers of a batch job: one API key of `batch_user`."""
    from common.apikeys import service as keys
    from common.audit.service import Actor

    user = batch_user(app, free_spent)
    with app.app_context():
        _, secret = keys.create_key(user, keys.NewKey(name="batch", models=[]), Actor.cli())
    return {"Authorization": f"Bearer {secret}"}


def many_keys(app, count: int) -> list[dict]:
    """`count` users (the free plan's tokens, ample for one answer each), one key each."""
    from flask_jwt_extended import decode_token

    from common.apikeys import service as keys
    from common.audit.service import Actor
    from common.users.models import User

    headers = []
    with app.app_context():
        for token in make_users(app, count):
            user = User.objects(id=decode_token(token)["sub"]).first()
            _, secret = keys.create_key(user, keys.NewKey(name="bench", models=[]), Actor.cli())
            headers.append({"Authorization": f"Bearer {secret}"})
    return headers


async def sitting(args, bench) -> None:
    from common.catalog.service import sync_provider

    bench.fake.scenario(MODEL, **SCENARIO)
    with bench.app.app_context():
        sync_provider("openrouter")
    top = max(args.n)
    batch = batch_key(bench.app, free_spent=not args.free_left)
    keys = many_keys(bench.app, top) if args.many_keys else []
    with litellm_proxy.LiteLLM(bench.fake.base_url, MODEL) as litellm:
        urls = {
            "direct": bench.fake.base_url + "/chat/completions",
            "litellm": litellm.url,
            "pasta": bench.stack.base_url + "/v1/chat/completions",
        }
        targets = {name: Target(name, url) for name, url in urls.items()}
        for t in targets.values():
            await t.__aenter__()
        try:
            one_key = {"direct": [None] * top, "litellm": [litellm_proxy.HEADERS] * top}
            one_key["pasta"] = [batch] * top
            for name, t in targets.items():  # open the pools (and warm every path) untimed
                await t.warm(top, BODY, one_key[name])
            if keys:  # each key's first use (its documents read into the web's cache) too
                await targets["pasta"].warm(top, BODY, keys)
            print("measuring idle traffic ...", flush=True)
            idle = idle_rates(bench.mongo, bench.redis_url, args.idle_seconds)
            run = Sitting(bench, litellm.proc.pid, idle)
            rows = []

            def runners(headers: dict[str, list]) -> dict:
                def runner(name: str):
                    async def streams(n: int):
                        if n == 1:
                            return await one_by_one(
                                targets[name], BODY, args.rounds_1, headers[name][0]
                            )
                        return await burst(targets[name], BODY, headers[name][:n])

                    return streams

                return {name: runner(name) for name in targets}

            for n in args.n:
                row = Row("one key", n)
                rounds = 1 if n == 1 else args.rounds
                for i in range(rounds):
                    print(f"N={n} round {i + 1}/{rounds}", flush=True)
                    await run.round(row, runners(one_key))
                rows.append(row)
            if keys:
                row = Row(f"{top} keys", top)
                for i in range(args.rounds):
                    print(f"N={top}, {top} keys, round {i + 1}/{args.rounds}", flush=True)
                    await run.round(row, runners({**one_key, "pasta": keys}))
                rows.append(row)
            if args.profile:
                await profile(bench, targets["pasta"], [batch] * top, args.profile_seconds)
            report(rows)
        finally:
            for t in targets.values():
                await t.__aexit__(None, None, None)


async def profile(bench, pasta: Target, headers: list[dict], seconds: float) -> None:
    """Rounds of the largest N back to back while py-spy samples the web and the worker."""
    import psutil

    web = psutil.Process(bench.stack.web.pid).children()[0].pid
    pids = {"web": web, "worker": bench.stack.worker.pid}
    deadline = time.monotonic() + seconds
    with Profiles(pids, seconds, tag="openai") as prof:
        while time.monotonic() < deadline:
            await burst(pasta, BODY, headers)
    print(f"\nProfile at N={len(headers)} ({seconds:.0f} s of back-to-back rounds):")
    print(prof.report())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1, 50, 200])
    parser.add_argument("--rounds", type=int, default=3, help="rounds at each N > 1")
    parser.add_argument("--rounds-1", type=int, default=20, help="sequential streams at N = 1")
    # Long enough to average beat's periodic jobs (the reaper every 5 s, mail, apply_pending
    # every minute): what is subtracted from each round as the processes' own traffic.
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--no-many-keys", dest="many_keys", action="store_false")
    parser.add_argument(
        "--free-left", action="store_true", help="the one key's user keeps its free tokens"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy the web and the worker")
    parser.add_argument("--profile-seconds", type=float, default=20.0)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}", flush=True)
    with bench_stack("aipasta_bench", "bench-openai") as bench:
        asyncio.run(sitting(args, bench))
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
