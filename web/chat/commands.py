"""What the HTTP route and the websocket share: send a turn and enqueue its answers."""

from __future__ import annotations

from common.chat.send import SendCommand, SendResult, send


class _Enqueued:
    """What `send_task` hands back: just the id. Celery's default `AsyncResult` would build a
    result backend (a Redis client) per thread — per greenlet under gevent, i.e. per socket."""

    def __init__(self, task_id: str):
        self.id = task_id


def enqueue_completion(message_id: str) -> None:
    from worker.celery_app import celery

    # The answer reaches clients through the stream channel, never as a Celery result: ignoring
    # it spares a result-channel SUBSCRIBE per send here and a result write in the worker.
    celery.send_task(
        "chat.complete",
        args=[message_id],
        queue="chat",
        ignore_result=True,
        result_cls=_Enqueued,
    )


def send_turn(cmd: SendCommand) -> SendResult:
    return send(cmd, enqueue_completion)
