"""Task events for Flower, sent in batches: the same events, fewer Redis round trips.

Celery sends a task's `task-received`, `task-started` and `task-succeeded` events as one publish
each: three Redis round trips per answer on the worker's broker connection. Celery can buffer a
group of events and publish them together as one `task.multi` message (a list, which every event
receiver — Flower's included — unpacks event by event), but it only does so with its own event
loop, never with the gevent pool. This consumer step turns that buffering on for the `task`
group and flushes it every `FLUSH_SECONDS` (or at `BUFFER_LIMIT` events), so a monitor sees each
event at most that much later, and a busy worker publishes a handful of messages a second
instead of three per answer. Worker heartbeats are not buffered. On stop, what is buffered is
flushed first.
"""

from __future__ import annotations

import logging
import threading

from celery import bootsteps

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.2
BUFFER_LIMIT = 500


class BufferedTaskEvents(bootsteps.StartStopStep):
    requires = ("celery.worker.consumer.events:Events",)

    def __init__(self, consumer, **kwargs):
        super().__init__(consumer, **kwargs)
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None

    def start(self, consumer):
        dispatcher = consumer.event_dispatcher
        if dispatcher is None or not dispatcher.enabled:
            return
        dispatcher.buffer_group = frozenset({"task"})
        dispatcher.buffer_limit = BUFFER_LIMIT
        self._stop.clear()
        self._flusher = threading.Thread(
            target=self._flush_every, args=(consumer,), daemon=True, name="task-events"
        )
        self._flusher.start()

    def stop(self, consumer):
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(2)
            self._flusher = None
        self._flush(consumer)

    def _flush_every(self, consumer) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            self._flush(consumer)

    @staticmethod
    def _flush(consumer) -> None:
        dispatcher = consumer.event_dispatcher  # a new one after a broker reconnect
        if dispatcher is None:
            return
        try:
            dispatcher.flush(errors=False, groups=True)
        except Exception:  # the broker is away: the events stay buffered for the next flush
            log.warning("could not send buffered task events", exc_info=True)
