"""First come, first served admission for bursts of short work (sends, answer starts).

Under a burst — hundreds of sockets sending at once, hundreds of answers starting at once —
letting all of them in advances every one a little at a time (greenlets and threads take turns
at each round trip), so they all finish together at the end of the burst and every answer
starts late. Admitting a few at a time, in arrival order, finishes the first ones first: their
answers start streaming while later ones still wait. Threads' and gevent's semaphores both
wake waiters in the order they arrived.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator


class Admission:
    def __init__(self, size: Callable[[], int]):
        self._size_of = size  # read on use, so tests and tools can change the setting
        self._gate: threading.Semaphore | None = None
        self._size = 0
        self._lock = threading.Lock()

    def _current(self) -> threading.Semaphore:
        size = max(1, int(self._size_of()))
        if self._gate is None or self._size != size:
            with self._lock:
                if self._gate is None or self._size != size:
                    self._gate, self._size = threading.Semaphore(size), size
        return self._gate

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Wait for a turn (in arrival order), hold it for the `with` block."""
        with self._current():
            yield
