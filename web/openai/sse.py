"""Following one answer's stream for an HTTP response (the `/v1` streaming and waiting answers).

The answer's frames come through the same Redis replay buffer and pub/sub hub as the websocket's
(`web.streams`): a `Subscription` replays what is buffered, then goes live, and drops any chunk
seen twice, so every delta reaches the response once and in order. Frames land in a queue that
the response's generator reads.
"""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator
from typing import Any

from common.errors import ServiceUnavailable
from web.streams import Subscription, hub

KEEPALIVE_SECONDS = 2.0  # an SSE comment while waiting; a write to a gone client fails soon
MAX_SILENCE_SECONDS = 600.0  # no frame for this long: give up (the reaper ends dead answers)


class _Sink:
    """Where the subscription puts frames (the websocket's `Outbox` has the same `put`)."""

    def __init__(self):
        self.frames: queue.Queue[str] = queue.Queue()

    def put(self, text: str) -> None:
        self.frames.put(text)


class Follow:
    """The frames of message `message_id`, decoded, as they come; ends after the final one.
    `fresh`: followed before its task was enqueued (nothing to replay: no buffer read)."""

    def __init__(self, message_id: str, fresh: bool = False):
        self.message_id = message_id
        self.sink = _Sink()
        self.sub = Subscription(hub, self.sink, message_id, 0)
        self.fresh = fresh
        self.final: dict[str, Any] | None = None

    def open(self) -> Follow:
        """Subscribe (and, unless `fresh`, read back what the answer published so far)."""
        if self.fresh:
            self.sub.attach_before_enqueue()
            self.sub.go_live()
        else:
            self.sub.start()
        return self

    def close(self) -> None:
        self.sub.stop()

    def __enter__(self) -> Follow:
        """Used on an opened follow (or opens it): the block closes it."""
        if not self.sub.live:
            self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def frames(self, keepalive: float | None = None) -> Iterator[dict[str, Any] | None]:
        """Each frame as a dict; `None` every `keepalive` seconds of silence (if given)."""
        for batch in self.batches(keepalive):
            yield from batch or [None]

    def batches(self, keepalive: float | None = None) -> Iterator[list[dict[str, Any]]]:
        """The frames that have arrived, as a list, as soon as there is one (so frames that
        arrive together leave together: one write to the client); `[]` every `keepalive`
        seconds of silence (if given). Ends after the final frame."""
        wait = keepalive or MAX_SILENCE_SECONDS
        silent_since = time.monotonic()
        while self.final is None:
            try:
                raws = [self.sink.frames.get(timeout=wait)]
            except queue.Empty:
                if time.monotonic() - silent_since > MAX_SILENCE_SECONDS:
                    raise ServiceUnavailable(
                        "The answer stopped arriving. It was not charged if it did not finish."
                    ) from None
                yield []
                continue
            silent_since = time.monotonic()
            while not self.sink.frames.empty():
                raws.append(self.sink.frames.get_nowait())
            yield self._decoded(raws)

    def _decoded(self, raws: list[str]) -> list[dict[str, Any]]:
        batch = []
        for raw in raws:
            frame = json.loads(raw)
            batch.append(frame)
            if frame.get("type") != "chunk":
                self.final = frame
                break  # nothing follows a final frame
        return batch
