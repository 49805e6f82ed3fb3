"""One sitting of a benchmark: the same N streams through several targets, round after round.

A target is a name and a runner (`n` → that many streams at once, their `StreamResult`s). Each
round runs every target in turn, measuring the CPU of the processes named for it and, for AI
Pasta, the MongoDB commands and Redis round trips it sent (`tests.support.wire`, idle traffic
subtracted) and that `flask reconcile`'s check is clean. `report` prints the table.
"""

from __future__ import annotations

import asyncio
import collections
import statistics
from collections.abc import Awaitable, Callable

from bench.sse import StreamResult
from bench.stand import DELTAS, CpuMeter, pct
from tests.support.wire import Wire, WireMeter

SETTLE_SECONDS = 1.0  # after a round: the task's ack and the last writes land in the meter
TARGETS = ("direct", "litellm", "pasta")
Runner = Callable[[int], Awaitable[list[StreamResult]]]


def reconciled(app) -> bool:
    from common.wallet.reconcile import reconcile

    with app.app_context():
        differences = reconcile()
    for d in differences[:5]:
        print(f"  RECONCILE DIFFERENCE: {d}")
    return not differences


# -- one sitting ----------------------------------------------------------------------------------


class Row:
    """Everything measured at one N for the three targets (`direct` is the provider itself)."""

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
    def __init__(self, bench, litellm_pid: int, idle: Wire):
        self.bench, self.idle = bench, idle
        self.pids = {"direct": {}, "litellm": {"litellm": litellm_pid}, "pasta": bench.pids()}

    async def round(self, row: Row, runners: dict[str, Runner]) -> None:
        for name in TARGETS:
            wire = WireMeter(self.bench.mongo, self.bench.redis_url) if name == "pasta" else None
            with CpuMeter(self.pids[name]) as cpu:
                if wire:
                    wire.__enter__()
                got = await runners[name](row.n)
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
