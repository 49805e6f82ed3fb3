"""Running independent calls at once: a send's writes are each a round trip to the first delta."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def concurrently(*calls: Callable[[], Any]) -> list[Any]:
    """Run `calls` at once (greenlets under gevent, threads otherwise); each result is the
    call's value or the exception it raised."""
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except BaseException as exc:  # handed back to the caller, who decides
            results[i] = exc

    helpers = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(1, len(calls))]
    for helper in helpers:
        helper.start()
    run(0)
    for helper in helpers:
        helper.join()
    return results
