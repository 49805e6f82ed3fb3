"""The Celery app, built from the same settings as the web tier.

Run: `celery -A worker.celery_app worker -Q chat,default` and `celery -A worker.celery_app beat`.
"""

from __future__ import annotations

import time

import kombu.utils.functional
from celery import Celery, Task
from celery.signals import worker_process_init

from common import db
from config import get_settings
from config.logging import configure_logging


class DbTask(Task):
    """Opens this process's database connection (again after a fork) before running."""

    def __call__(self, *args, **kwargs):
        db.connect()
        return super().__call__(*args, **kwargs)


def make_celery() -> Celery:
    settings = get_settings()
    app = Celery("aipasta", task_cls=DbTask)
    app.conf.update(
        broker_url=settings.broker_url,
        result_backend=settings.result_backend,
        result_expires=3600,
        # One result backend per process. Celery otherwise builds one per thread, and under
        # gevent (the worker's pool, gunicorn's web worker) every task and every request runs on
        # a new greenlet: a backend (a Redis client) built for every task and every send.
        result_backend_thread_safe=True,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        timezone="UTC",
        enable_utc=True,
        task_default_queue="default",
        task_routes={"chat.*": {"queue": "chat"}},
        # At-least-once: a task is acknowledged only after it ran; a dead worker's task returns.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # Longer than the longest answer, so a live task is never handed to a second worker.
        broker_transport_options={"visibility_timeout": 3600},
        result_backend_transport_options={"visibility_timeout": 3600},
        broker_connection_retry_on_startup=True,
        # Flower sees received/started/succeeded from the workers; a `task-sent` event per
        # enqueue would add a Redis publish to every chat send's critical path.
        worker_send_task_events=True,
        task_send_sent_event=False,
        worker_hijack_root_logger=False,
    )
    from worker.tasks import BEAT_SCHEDULE, TASK_MODULES

    app.conf.beat_schedule = BEAT_SCHEDULE
    app.conf.include = TASK_MODULES
    return app


@worker_process_init.connect
def _reconnect_after_fork(**_kwargs):
    db.disconnect()
    db.connect()


def _cooperative_reconnect_waits() -> None:
    """kombu binds `time.sleep` when it is imported, before the worker's gevent patching: its
    waits between broker reconnects then block the whole gevent worker, and every answer it
    runs freezes (no heartbeat, no publish, no settlement) while the broker is down. Imported
    after the patching, this module hands kombu the cooperative sleep."""
    kombu.utils.functional.sleep = time.sleep


_cooperative_reconnect_waits()
configure_logging(get_settings().log_level, get_settings().log_format)
celery = make_celery()
app = celery

from worker import operations  # noqa: E402,F401 (log ids, metrics endpoint, drain: signal handlers)
