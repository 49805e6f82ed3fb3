"""First come, first served admission (common.admission)."""

from __future__ import annotations

import threading
import time

from common.admission import Admission


def test_at_most_size_run_at_once_and_the_rest_enter_in_arrival_order():
    size = {"n": 2}
    gate = Admission(lambda: size["n"])
    entered: list[int] = []
    running, peak = [0], [0]
    lock = threading.Lock()
    release = threading.Event()

    def work(i: int) -> None:
        with gate.slot():
            with lock:
                entered.append(i)
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            release.wait(5)
            time.sleep(0.01)
            with lock:
                running[0] -= 1

    threads = []
    for i in range(8):
        t = threading.Thread(target=work, args=(i,))
        t.start()
        threads.append(t)
        time.sleep(0.02)  # arrive one after another, each queued behind the last
    assert entered == [0, 1]  # two in, six waiting
    release.set()
    for t in threads:
        t.join(10)
    assert entered == list(range(8)) and peak[0] == 2


def test_a_changed_setting_takes_effect_for_later_callers():
    size = {"n": 1}
    gate = Admission(lambda: size["n"])
    with gate.slot():
        pass
    size["n"] = 3
    inside = threading.Barrier(3, timeout=5)

    def work() -> None:
        with gate.slot():
            inside.wait()  # only passes if three are inside at once

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not inside.broken
