"""What the HTTP route and the websocket share: send a turn and enqueue its answers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from celery import Celery
from flask import current_app

from common.sending.command import SendCommand, SendResult
from common.sending.send import send
from config.logging import TASK_REQUEST_ID_HEADER, request_id

log = logging.getLogger(__name__)


def enqueue_completion(celery: Celery, message_id: str, hold: dict | None = None) -> None:
    # The answer reaches clients through the stream channel, never as a Celery result: ignoring
    # it spares a result-channel SUBSCRIBE per send here and a result write in the worker. The
    # hold travels with the task, so the worker settles it without reading the user first.
    celery.send_task(
        "chat.complete",
        args=[message_id, hold],
        # What monitors (Flower) show of the task: the answer's id. Celery would build a safe
        # repr of every argument for each send otherwise (its top frame on the send path).
        argsrepr=f"['{message_id}']",
        kwargsrepr="{}",
        queue="chat",
        ignore_result=True,
        # The worker's log lines for this answer carry the request that caused it.
        headers={TASK_REQUEST_ID_HEADER: request_id.get() or ""},
    )
    log.info("answer enqueued", extra={"messageId": message_id})


def send_turn(cmd: SendCommand, before_enqueue: Callable[[str], None] | None = None) -> SendResult:
    """Sends through this app's Celery, bound here so `send` may enqueue from any thread.
    `before_enqueue(message_id)` runs just before each answer's task is sent: a caller that
    subscribes to the answer there need not read back what it missed (nothing yet)."""
    enqueue = partial(enqueue_completion, current_app.extensions["celery"])
    if before_enqueue is None:
        return send(cmd, enqueue)

    def subscribed_first(message_id: str, hold: dict | None = None) -> None:
        before_enqueue(message_id)
        enqueue(message_id, hold)

    return send(cmd, subscribed_first)
