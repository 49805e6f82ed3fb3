"""Following one answer's stream for an HTTP response (the `/v1` streaming and waiting answers).

The answer's frames come through the same Redis replay buffer and pub/sub hub as the websocket's
(`web.streams`): a `Subscription` replays what is buffered, then goes live, and drops any chunk
seen twice, so every delta reaches the response once and in order. Frames land in a queue that
the response's generator reads.
"""

from __future__ import annotations

import json
import queue
import select
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import request

from common.errors import ServiceUnavailable
from web.streams import Subscription, hub

KEEPALIVE_SECONDS = 2.0  # an SSE comment while waiting; a write to a gone client fails soon
MAX_SILENCE_SECONDS = 600.0  # no frame for this long: give up (the reaper ends dead answers)
HANG_UP_CHECK_SECONDS = 0.5  # a waiting (non-streaming) answer checks its client this often


def client_hung_up() -> Callable[[], bool]:
    """For this request: a check whether its client closed the connection. A response that
    writes nothing while it waits learns it no other way. gunicorn hands the socket over in the
    environ; without it (a test client) the check always says no."""
    sock = request.environ.get("gunicorn.socket")
    if sock is None:
        return lambda: False

    def hung_up() -> bool:
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            # Readable with nothing to read: the peer's FIN (a pipelined request would be data).
            return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:  # reset by the peer
            return True

    return hung_up


class _Sink:
    """Where the subscription puts frames (the websocket's `Outbox` has the same `put`)."""

    def __init__(self):
        self.frames: queue.Queue[str] = queue.Queue()

    def put(self, text: str) -> None:
        self.frames.put(text)


class Follow:
    """The frames of message `message_id`, decoded, as they come; ends after the final one."""

    def __init__(self, message_id: str):
        self.message_id = message_id
        self.sink = _Sink()
        self.sub = Subscription(hub, self.sink, message_id, 0)
        self.final: dict[str, Any] | None = None

    def __enter__(self) -> Follow:
        self.sub.start()
        return self

    def __exit__(self, *exc) -> None:
        self.sub.stop()

    def frames(self, keepalive: float | None = None) -> Iterator[dict[str, Any] | None]:
        """Each frame as a dict; `None` every `keepalive` seconds of silence (if given)."""
        wait = keepalive or MAX_SILENCE_SECONDS
        silent_since = time.monotonic()
        while self.final is None:
            try:
                raw = self.sink.frames.get(timeout=wait)
            except queue.Empty:
                if time.monotonic() - silent_since > MAX_SILENCE_SECONDS:
                    raise ServiceUnavailable(
                        "The answer stopped arriving. It was not charged if it did not finish."
                    ) from None
                yield None
                continue
            silent_since = time.monotonic()
            frame = json.loads(raw)
            if frame.get("type") != "chunk":
                self.final = frame
            yield frame
