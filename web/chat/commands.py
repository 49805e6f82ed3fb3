"""What the HTTP route and the websocket share: send a turn and enqueue its answers."""

from __future__ import annotations

import logging

from common.chat.send import SendCommand, SendResult, send
from config.logging import TASK_REQUEST_ID_HEADER, request_id

log = logging.getLogger(__name__)


def enqueue_completion(message_id: str) -> None:
    from worker.celery_app import celery

    # The answer reaches clients through the stream channel, never as a Celery result: ignoring
    # it spares a result-channel SUBSCRIBE per send here and a result write in the worker.
    celery.send_task(
        "chat.complete",
        args=[message_id],
        queue="chat",
        ignore_result=True,
        # The worker's log lines for this answer carry the request that caused it.
        headers={TASK_REQUEST_ID_HEADER: request_id.get() or ""},
    )
    log.info("answer enqueued", extra={"messageId": message_id})


def send_turn(cmd: SendCommand) -> SendResult:
    return send(cmd, enqueue_completion)
