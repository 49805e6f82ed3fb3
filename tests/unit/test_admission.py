"""First come, first served admission (common.admission)."""

from __future__ import annotations

import threading

from common.admission import Admission
from tests.support.services import wait_for


def queued(gate: Admission) -> int:
    """Threads waiting at `gate`: CPython's `threading.Semaphore` parks each waiter on its
    condition, one lock per waiter in `_waiters`, until a release takes it out."""
    return len(gate._gate._cond._waiters) if gate._gate is not None else 0


def arrived(gate: Admission, entered: list[int], i: int, size: int) -> bool:
    """Thread `i` got in (one of the first `size`) or is queued behind the earlier ones."""
    return len(entered) == i + 1 if i < size else queued(gate) == i + 1 - size


def test_at_most_size_run_at_once_and_the_rest_enter_in_arrival_order():
    gate = Admission(lambda: 2)
    entered: list[int] = []
    running, peak = [0], [0]
    lock = threading.Lock()
    leave = [threading.Event() for _ in range(8)]

    def work(i: int) -> None:
        with gate.slot():
            with lock:
                entered.append(i)
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            leave[i].wait(5)
            with lock:
                running[0] -= 1

    threads = []
    for i in range(8):
        t = threading.Thread(target=work, args=(i,))
        t.start()
        threads.append(t)
        wait_for(lambda i=i: arrived(gate, entered, i, 2), 5, 0.001, f"thread {i} to arrive")
    assert entered == [0, 1]  # two in, six waiting
    for i in range(6):  # one leaves at a time: the longest-waiting one comes in
        leave[i].set()
        wait_for(lambda i=i: len(entered) >= i + 3, 5, 0.001, "the next one to enter")
        assert entered == list(range(i + 3))
    for i in (6, 7):
        leave[i].set()
    for t in threads:
        t.join(10)
    assert peak[0] == 2


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
