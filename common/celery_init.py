"""The one place a Celery app is built: the web app factory and the worker both call `init_celery`.

The web keeps its object on the Flask app (`app.extensions["celery"]`) and sends tasks by name
through it; the worker adds its task modules and beat entries. Worker-only wiring (signal
handlers, logging, kombu's sleep) stays in `worker/`, so building one here starts nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from celery import Celery, Task

from common import db
from config import Settings


class DbTask(Task):
    """Opens this process's database connection (again after a fork) before running."""

    def __call__(self, *args, **kwargs):
        db.connect()
        return super().__call__(*args, **kwargs)


def init_celery(
    settings: Settings,
    include: Sequence[str] = (),
    beat_schedule: Mapping[str, dict] | None = None,
) -> Celery:
    """A Celery app for `settings`' broker; `include` and `beat_schedule` are the worker's."""
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
    app.conf.beat_schedule = dict(beat_schedule or {})
    app.conf.include = list(include)
    return app
