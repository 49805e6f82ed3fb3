"""gunicorn hooks for the web tier (gunicorn reads `./gunicorn.conf.py` by itself; the Procfile
and docker-compose also name it). Command-line flags still set the worker class, binds and
timeouts; this file sets the keep-alive from the settings and adds behaviour (docs/operations.md):

- keep-alive: `WEB_KEEPALIVE_SECONDS` (75), longer than a load balancer's idle timeout;
- request lines up to 8,190 bytes (gunicorn's maximum; docs/api.md, "Limits");
- drain: when a worker starts stopping (SIGTERM to the master or the worker), its websockets are
  closed with 4503 so their clients resume on another process (`web.drain`);
- metrics: with PROMETHEUS_MULTIPROC_DIR, stale files from an earlier run are removed at start,
  and a dead worker's live gauges (open websockets) are dropped.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from config import get_settings

# gunicorn's default (2 s) closes a pooled connection between an SDK's requests, and sometimes
# just as the client sends the next one on it: that request fails with a reset.
keepalive = get_settings().web_keepalive_seconds
# gunicorn's largest request line (its default is 4,094 bytes, which a long percent-encoded
# search query reaches); longer lines get gunicorn's own 414 before the app sees them.
limit_request_line = 8190


def on_starting(server):
    path = get_settings().prometheus_multiproc_dir
    if path and Path(path).is_dir():
        for stale in Path(path).glob("*.db"):
            with contextlib.suppress(OSError):
                stale.unlink()


def post_worker_init(worker):
    """Watch for the worker's stop (gunicorn sets `alive = False` on SIGTERM/SIGQUIT/SIGINT)."""
    import threading  # gevent-patched in the worker: a greenlet
    import time

    def watch():
        while worker.alive:
            time.sleep(0.2)
        from web import drain

        drain.begin()

    threading.Thread(target=watch, daemon=True, name="drain-watch").start()


def child_exit(server, worker):
    if get_settings().prometheus_multiproc_dir:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
