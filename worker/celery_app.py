"""The worker's Celery app, built by `common.celery_init` from the same settings as the web tier.

Run: `celery -A worker.celery_app worker -Q chat,default` and `celery -A worker.celery_app beat`.
Importing this module sets the worker process up (logging, kombu's sleep, signal handlers): the
web never imports it.
"""

from __future__ import annotations

import time

import kombu.utils.functional
from celery import Celery
from celery.signals import worker_process_init

from common import db
from common.celery_init import init_celery
from config import get_settings
from config.logging import configure_logging


def make_celery() -> Celery:
    """This process's app: the shared configuration plus the worker's tasks and beat entries."""
    from worker.events import BufferedTaskEvents
    from worker.tasks import BEAT_SCHEDULE, TASK_MODULES

    app = init_celery(get_settings(), include=TASK_MODULES, beat_schedule=BEAT_SCHEDULE)
    app.steps["consumer"].add(BufferedTaskEvents)  # Flower's events, a few publishes a second
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
