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
import collections
import os
import statistics
import time

from bench import litellm_proxy
from bench.profile import Profiles
from bench.sse import StreamResult, Target, burst, one_by_one
from bench.stream import DELTAS, MODEL, SCENARIO, CpuMeter, bench_stack, make_users, pct
from tests.support.wire import Wire, WireMeter, idle_rates

BODY = {
    "model": MODEL,
    "stream": True,
    "stream_options": {"include_usage": True},
    "messages": [{"role": "user", "content": "hi"}],
}
SETTLE_SECONDS = 1.0  # after a round: the task's ack and the last writes land in the meter
TARGETS = ("direct", "litellm", "pasta")


# -- users and keys -------------------------------------------------------------------------------


def batch_key(app, free_spent: bool = True) -> dict:
    """One user on the enterprise plan, with purchased tokens for thousands of answers and one
    API key: the headers of a batch job. `free_spent`: its sign-up grant of free tokens is
    already spent (a debit through the wallet), as a batch job's is after its first minutes —
    while the free pool runs out under many concurrent answers, holds that take its last tokens
    race each other (see docs/chat.md, "Holds under concurrency")."""
    from common.apikeys import service as keys
    from common.audit.service import Actor
    from common.payments import subscriptions
    from common.users import service as users
    from common.users.models import User
    from common.wallet import service as wallet

    with app.app_context():
        user = users.register(f"batch-{time.time_ns()}@example.com", "bench-password-1", "Batch")
        subscriptions.apply_purchase(user.id, "bench-order", "enterprise", 30, None)
        User.objects(id=user.id).update_one(set__subscription__limits__requestsPerDay=10_000_000)
        wallet.credit(user.id, 500_000_000, f"bench-{user.id}", "bench")
        if free_spent:
            spent = f"bench-spent-{user.id}"
            wallet.debit(user.id, 10**9, spent, "bench", pools=("free",))
        user = User.objects(id=user.id).first()
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


def reconciled(app) -> bool:
    from common.wallet.reconcile import reconcile

    with app.app_context():
        differences = reconcile()
    for d in differences[:5]:
        print(f"  RECONCILE DIFFERENCE: {d}")
    return not differences


# -- one sitting ----------------------------------------------------------------------------------


class Row:
    """Everything measured at one N for the three targets."""

    def __init__(self, label: str, n: int):
        self.label, self.n = label, n
        self.results: dict[str, list[StreamResult]] = {t: [] for t in TARGETS}
        self.cpu: dict[str, collections.Counter] = {t: collections.Counter() for t in TARGETS}
        self.wire: list[Wire] = []
        self.reconcile_ok = True

    def ttft(self, target: str) -> list[float]:
        return [r.ttft for r in self.results[target] if r.ttft is not None]

    def added(self, target: str, p: float) -> float:
        return pct(self.ttft(target), p) - pct(self.ttft("direct"), p)

    def failures(self, target: str) -> tuple[int, int]:
        """(errored streams, lost or extra deltas in the others)."""
        rs = self.results[target]
        errored = sum(1 for r in rs if r.error)
        lost = sum(abs(len(DELTAS) - len(r.deltas)) for r in rs if not r.error)
        lost += sum(1 for r in rs if not r.error and "".join(r.deltas) != "".join(DELTAS))
        return errored, lost

    def cpu_per_answer(self, target: str) -> dict[str, float]:
        answers = len(self.results[target]) or 1
        return {k: v * 1000 / answers for k, v in self.cpu[target].items()}


class Sitting:
    def __init__(self, bench, litellm, targets: dict[str, Target], idle: Wire):
        self.bench, self.litellm, self.targets, self.idle = bench, litellm, targets, idle
        self.pasta_pids = bench.pids()
        self.litellm_pids = {"litellm": litellm.proc.pid}

    async def round(self, row: Row, headers: dict[str, list[dict | None]]) -> None:
        n = row.n
        for name in TARGETS:
            target, hs = self.targets[name], headers[name]
            pids = {"direct": {}, "litellm": self.litellm_pids, "pasta": self.pasta_pids}[name]
            wire = WireMeter(self.bench.mongo, self.bench.redis_url) if name == "pasta" else None
            with CpuMeter(pids) as cpu:
                if wire:
                    wire.__enter__()
                if n == 1:
                    got = await one_by_one(target, BODY, len(hs), hs[0])
                else:
                    got = await burst(target, BODY, hs[:n])
                if wire:
                    await asyncio.sleep(SETTLE_SECONDS)
                    wire.__exit__(None, None, None)
            row.results[name] += got
            row.cpu[name].update(cpu.used)
            if wire:
                row.wire.append(wire.result.minus_idle(self.idle).per(len(got)))
                row.reconcile_ok &= reconciled(self.bench.app)
            await asyncio.sleep(0.2)


def _fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:+.1f} ms" if abs(seconds) < 1 else f"{seconds:+.2f} s"


def _pair(pair: tuple[int, int]) -> str:
    return f"{pair[0]}/{pair[1]}"


def report(rows: list[Row]) -> None:
    print("\nAdded time to first token (over the provider's own, same client):")
    head = (
        f"{'':>16} {'N':>4} | {'LiteLLM p50':>12} {'AI Pasta p50':>12} {'ratio':>6} | "
        f"{'LiteLLM p99':>12} {'AI Pasta p99':>12} | {'phase p50 L/P':>15} | "
        f"{'err/lost L':>10} {'err/lost P':>10} | {'reconcile':>9}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        lit, pas = r.added("litellm", 50), r.added("pasta", 50)
        ratio = pas / lit if lit > 0 else float("nan")
        phase = [statistics.median([x.phase for x in r.results[t] if x.phase]) for t in TARGETS[1:]]
        print(
            f"{r.label:>16} {r.n:>4} | {_fmt_ms(lit):>12} {_fmt_ms(pas):>12} {ratio:>5.2f}x | "
            f"{_fmt_ms(r.added('litellm', 99)):>12} {_fmt_ms(r.added('pasta', 99)):>12} | "
            f"{phase[0] * 1000:>6.0f}/{phase[1] * 1000:<6.0f}ms | "
            f"{_pair(r.failures('litellm')):>10} {_pair(r.failures('pasta')):>10} | "
            f"{'clean' if r.reconcile_ok else 'DIFFERS':>9}"
        )
    print("\nCPU per answer (ms; every process on the same 2 cores):")
    for r in rows:
        if r.n == 1:
            continue  # idle work dominates one stream at a time
        lit = sum(r.cpu_per_answer("litellm").values())
        parts = r.cpu_per_answer("pasta")
        pas = sum(parts.values())
        detail = ", ".join(f"{k} {v:.1f}" for k, v in parts.items())
        print(
            f"  {r.label:>16} N={r.n:>4}: LiteLLM {lit:.1f} | AI Pasta {pas:.1f} "
            f"({detail}) | ratio {pas / lit:.2f}x"
        )
    print("\nAI Pasta on the wire per answer (idle traffic subtracted):")
    for r in rows:
        if not r.wire:
            continue
        mongo = collections.Counter()
        for w in r.wire:
            mongo.update(w.mongo)
        rounds = len(r.wire)
        mongo_total = sum(mongo.values()) / rounds
        redis_rt = sum(w.redis_round_trips for w in r.wire) / rounds
        by_command = ", ".join(
            f"{k} {v / rounds:.2f}" for k, v in sorted(mongo.items(), key=lambda kv: -kv[1])
        )
        print(
            f"  {r.label:>16} N={r.n:>4}: MongoDB {mongo_total:.2f} commands, "
            f"Redis {redis_rt:.1f} round trips\n      {by_command}"
        )
        redis_cmds = collections.Counter()
        for w in r.wire:
            redis_cmds.update(w.redis_commands)
        top = sorted(redis_cmds.items(), key=lambda kv: -kv[1])[:16]
        print(
            "      Redis commands (a script's own included): "
            + ", ".join(f"{k} {v / rounds:.2f}" for k, v in top)
        )


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
            run = Sitting(bench, litellm, targets, idle)
            rows = []
            for n in args.n:
                row = Row("one key", n)
                rounds = 1 if n == 1 else args.rounds
                heads = {k: v[: args.rounds_1 if n == 1 else n] for k, v in one_key.items()}
                for i in range(rounds):
                    print(f"N={n} round {i + 1}/{rounds}", flush=True)
                    await run.round(row, heads)
                rows.append(row)
            if keys:
                row = Row(f"{top} keys", top)
                heads = {**one_key, "pasta": keys}
                for i in range(args.rounds):
                    print(f"N={top}, {top} keys, round {i + 1}/{args.rounds}", flush=True)
                    await run.round(row, heads)
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
    parser.add_argument("--idle-seconds", type=float, default=10.0)
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
