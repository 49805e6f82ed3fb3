"""What an operator sees of a worker, and how it leaves the fleet (docs/operations.md).

- Logs: LOG_LEVEL and LOG_FORMAT (not Celery's `-l`); every line written while a task runs carries its `messageId` (chat tasks) and the
  `requestId` of the web request that enqueued it (sent as a task header).
- Metrics: with `WORKER_METRICS_PORT` set, `GET /metrics` on `WORKER_METRICS_BIND` (default
  127.0.0.1), under the same token rule as the web tier's.
- Drain: on a warm shutdown (SIGTERM) Celery stops taking tasks and waits for the running ones.
  Answers in flight get `WORKER_DRAIN_SECONDS` to finish; any still running then is ended
  `interrupted` — partial text kept, not charged, hold released, `error` STREAM_INTERRUPTED
  published to its clients — and its task returns at its next delta. Tasks this worker had
  reserved but not started go back to the queue (acks-late) for another worker.
"""

from __future__ import annotations

import logging
import threading
import time

from celery.signals import (
    setup_logging,
    task_postrun,
    task_prerun,
    worker_ready,
    worker_shutting_down,
)

from common import metrics
from config import get_settings
from config.logging import TASK_REQUEST_ID_HEADER, configure_logging, message_id, request_id

log = logging.getLogger(__name__)

_stopping = {"since": None}
_tokens: dict[str, list] = {}


@setup_logging.connect
def _our_logging(**_kwargs):
    """Celery would configure the root logger from `-l`; LOG_LEVEL and LOG_FORMAT decide."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)


@task_prerun.connect
def _tag_logs(task_id=None, task=None, args=None, **_kwargs):
    tokens = [request_id.set(_header(task, TASK_REQUEST_ID_HEADER))]
    if task is not None and task.name == "chat.complete" and args:
        tokens.append(message_id.set(str(args[0])))
    _tokens[task_id] = tokens


@task_postrun.connect
def _untag_logs(task_id=None, task=None, retval=None, state=None, **_kwargs):
    if task is not None and task.name == "chat.complete":
        log.info("answer task %s: %s", state, retval)  # one line per answer, with its ids
    for token in reversed(_tokens.pop(task_id, [])):
        token.var.reset(token)


def _header(task, name: str) -> str | None:
    value = task.request.get(name) if task is not None else None
    return value if isinstance(value, str) and len(value) <= 128 else None


@worker_ready.connect
def _start_operations(**_kwargs):
    settings = get_settings()
    if settings.worker_metrics_port:
        metrics.serve(settings.worker_metrics_port, settings.worker_metrics_bind)
    threading.Thread(target=_drain_watch, daemon=True, name="drain-watch").start()


@worker_shutting_down.connect
def _note_shutdown(how=None, **_kwargs):
    """Runs inside the signal handler: only note the time; `_drain_watch` does the work."""
    if how == "Warm" and _stopping["since"] is None:
        _stopping["since"] = time.monotonic()


def _drain_watch() -> None:
    while _stopping["since"] is None:
        time.sleep(0.2)
    window = get_settings().worker_drain_seconds
    log.warning("warm shutdown: answers in flight have %.0f s to finish", window)
    while time.monotonic() - _stopping["since"] < window:
        time.sleep(0.2)
    from common.engine import drain

    ended = drain.interrupt_running()
    if ended:
        log.warning("drain window over: %d answer(s) ended interrupted", ended)
    metrics.drained("worker", "answers_interrupted", ended)
