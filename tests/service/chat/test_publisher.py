"""Publishing a run's deltas (common/engine/publisher.py) on the real Redis: the first delta at
once, then at most one round trip per coalescing window, every delta once and in order."""

from __future__ import annotations

import json
import time

from bson import ObjectId

from common.conversations.models import ChatMessage
from common.engine.publisher import Publisher
from common.engine.run import Run
from common.streaming import channel


def run_of() -> Run:
    msg = ChatMessage(id=ObjectId(), userId=ObjectId(), role="assistant", status="streaming")
    return Run(msg, "token")


def stream(run: Run, monkeypatch, deltas: int, interval: float) -> list[tuple[float, int]]:
    """Put `deltas` deltas `interval` apart; returns (time, deltas) of each publish call."""
    calls: list[tuple[float, int]] = []
    real = channel.publish_chunks

    def counted(mid, first_seq, batch, *rest):
        calls.append((time.monotonic(), len(batch)))
        return real(mid, first_seq, batch, *rest)

    monkeypatch.setattr(channel, "publish_chunks", counted)
    publisher = Publisher(run)
    started = time.monotonic()
    for i in range(deltas):
        publisher.put(f"d{i} ")
        time.sleep(interval)
    publisher.close()
    return [(at - started, n) for at, n in calls]


def stored(run: Run) -> list[str]:
    return [json.loads(raw)["delta"] for raw in channel.buffered(run.mid)]


def test_a_fast_stream_costs_one_publish_per_window_and_its_first_delta_goes_at_once(
    settings, monkeypatch
):
    run = run_of()
    calls = stream(run, monkeypatch, deltas=20, interval=0.01)  # 20 deltas in ~200 ms
    assert calls[0][1] == 1 and calls[0][0] < 0.02  # the first delta alone, at once
    assert len(calls) <= 1 + 200 // 50 + 1  # then at most one per 50 ms, and the rest at close
    assert sum(n for _, n in calls) == 20
    assert stored(run) == [f"d{i} " for i in range(20)]


def test_a_slow_stream_publishes_each_delta_as_it_comes(settings, monkeypatch):
    run = run_of()
    calls = stream(run, monkeypatch, deltas=5, interval=0.08)  # slower than the window
    assert [n for _, n in calls] == [1] * 5
    assert stored(run) == [f"d{i} " for i in range(5)]


def test_with_no_window_every_delta_goes_at_once(settings_override, monkeypatch):
    settings_override(stream_coalesce_ms=0)
    run = run_of()
    calls = stream(run, monkeypatch, deltas=10, interval=0.01)
    assert sum(n for _, n in calls) == 10 and len(calls) >= 5
