"""What the HTTP route and the websocket share: send a turn and enqueue its answers."""

from __future__ import annotations

from common.chat.send import SendCommand, SendResult, send


def enqueue_completion(message_id: str) -> None:
    from worker.celery_app import celery

    celery.send_task("chat.complete", args=[message_id], queue="chat")


def send_turn(cmd: SendCommand) -> SendResult:
    return send(cmd, enqueue_completion)
