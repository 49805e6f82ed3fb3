"""A web process leaving the fleet (a deploy, a scale-down): its sockets move elsewhere.

On SIGTERM gunicorn stops accepting and waits up to `--graceful-timeout` for the requests in
flight; a websocket is one long request. `gunicorn.conf.py` notices the worker stopping and calls
`begin()`, which closes every socket of this process with code 4503 ("reconnect") once the frame
it is handling, if any, has been answered and the frames already queued for it are sent. The
answers themselves run on the workers and never notice: a client that reconnects (through the
load balancer, to another web process) and sends `subscribe` with the last `seq` it has gets the
rest with no gap and no duplicate, and is charged once (the charge belongs to the answer, not the
socket). A socket that authenticates while the process drains is closed with 4503 at once.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Protocol

from common import metrics

log = logging.getLogger(__name__)

CLOSE_RECONNECT = 4503
RECONNECT_MESSAGE = "Server restarting: reconnect and subscribe again."


class Drainable(Protocol):
    def reconnect_elsewhere(self) -> None: ...


_open: weakref.WeakSet = weakref.WeakSet()
_lock = threading.Lock()
_draining = threading.Event()


def track(conn: Drainable) -> None:
    with _lock:
        _open.add(conn)


def untrack(conn: Drainable) -> None:
    with _lock:
        _open.discard(conn)


def draining() -> bool:
    return _draining.is_set()


def begin() -> int:
    """Tell every open socket to reconnect elsewhere; returns how many. Idempotent."""
    with _lock:
        if _draining.is_set():
            return 0
        _draining.set()
        conns = list(_open)
    log.warning("draining: telling %d websocket(s) to reconnect elsewhere", len(conns))
    for conn in conns:  # each on its own thread (greenlet): one busy socket must not hold others
        threading.Thread(target=_close, args=(conn,), daemon=True, name="ws-drain").start()
    metrics.drained("web", "sockets_told_to_reconnect", len(conns))
    return len(conns)


def _close(conn: Drainable) -> None:
    try:
        conn.reconnect_elsewhere()
    except Exception:
        log.warning("could not close a socket while draining", exc_info=True)


def reset_for_tests() -> None:
    _draining.clear()
