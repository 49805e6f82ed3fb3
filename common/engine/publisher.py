"""Publishing a run's deltas to its clients (the replay buffer and pub/sub), from its own thread."""

from __future__ import annotations

import logging
import threading
import time

from common.engine import outage
from common.engine.run import Cancelled, Lost, Run
from common.providers.base import ToolCallDelta
from common.streaming import channel
from config import get_settings

log = logging.getLogger(__name__)

MAX_BATCH = 64  # deltas per publish call


class Publisher:
    """Publishes a run's deltas from its own thread (a greenlet under the gevent pool).

    The reading loop hands each delta over (it joins `run.parts`) and goes straight back to the
    provider. The first delta is published at once; after each publish, the deltas that arrive
    within `STREAM_COALESCE_MS` (50 ms) go together in the next call, each still its own frame
    and seq — so a stream costs at most one Redis round trip per window however fast its
    provider sends, and a slow stream (one delta a window or less) still gets each delta at
    once. The end of the stream publishes what is queued without waiting.

    Redis down: the publish is retried (backoff to 1 s) while the reading loop goes on; once the
    provider has finished, the backlog waits at most `OUTAGE_RETRY_SECONDS` more, then the run
    ends with what it generated (`unpublished` set). Redis back without its data (a restart):
    the chunks it lost are stored again from `run.parts` first, so seq continues with no gap.
    """

    def __init__(self, run: Run):
        self.run = run
        self._closing = False
        self._give_up_at: float | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()  # ends a coalescing wait early
        self._window = get_settings().stream_coalesce_ms / 1000
        self._next_at = 0.0  # monotonic time before which no further publish starts
        self.failure: BaseException | None = None
        self.unpublished = False
        self._thread = threading.Thread(target=self._loop, name=f"publish-{run.mid}", daemon=True)
        self._thread.start()

    def put(self, part: str | ToolCallDelta) -> None:
        if self.failure is not None:
            raise self.failure  # a cancel or a lost lease stopped the stream
        with self._lock:
            self.run.parts.append(part)
        self._wake.set()

    def close(self) -> None:
        """Publish what is queued, then stop; raises whatever stopped the publishing."""
        with self._lock:
            self._closing = True
            self._give_up_at = time.monotonic() + outage.bound()
        self._closed.set()
        self._wake.set()
        self._thread.join()
        if self.failure is not None:
            raise self.failure

    def _loop(self) -> None:
        try:
            while True:
                with self._lock:
                    batch = self.run.parts[self.run.seq : self.run.seq + MAX_BATCH]
                    closing = self._closing
                    if not batch and not closing:
                        self._wake.clear()  # under the lock: a `put` after this sets it again
                if batch:
                    if not closing and self._coalesce():
                        continue  # more may have come meanwhile: take them too
                    if not self._publish(batch):
                        return
                    self._next_at = time.monotonic() + self._window
                elif closing:
                    return
                else:
                    self._wake.wait()
        except BaseException as exc:  # handed to the reading loop by `put` / `close`
            self.failure = exc

    def _coalesce(self) -> bool:
        """Wait out the window since the last publish (True if it waited: the batch may have
        grown); the stream's end cuts the wait short."""
        wait = self._next_at - time.monotonic()
        if wait <= 0:
            return False
        self._closed.wait(wait)
        return True

    def _publish(self, batch: list[str | ToolCallDelta]) -> bool:
        """Store and publish `batch`; False if Redis stayed down past the closing bound."""
        run = self.run
        wait = outage.FIRST_WAIT
        while True:
            if run.lost.is_set():
                raise Lost()
            try:
                result = channel.publish_chunks(
                    run.mid, run.seq + 1, _frames(batch), _first_extra(run, run.seq + 1)
                )
                if result == channel.GAP:
                    self._restore()
                    continue
            except outage.REDIS_TRANSIENT:
                with self._lock:
                    give_up = self._give_up_at
                if give_up is not None and time.monotonic() >= give_up:
                    log.error("chat %s: Redis stayed down; ending without publishing", run.mid)
                    self.unpublished = True
                    return False
                log.warning("chat %s: publish failed (Redis down?); retrying", run.mid)
                time.sleep(wait)
                wait = min(wait * 2, 1.0)
                continue
            break
        if result == channel.CANCELLED:
            raise Cancelled()
        if result != channel.PUBLISHED:
            raise Lost()
        run.seq += len(batch)
        run.last_at = time.monotonic()
        if run.first_at is None:
            run.first_at = run.last_at
        return True

    def _restore(self) -> None:
        """Redis lost the buffer (a restart): store the chunks it lost again, from memory."""
        run = self.run
        have = channel.buffer_length(run.mid)
        log.warning(
            "chat %s: Redis lost chunks %d-%d; storing them again", run.mid, have + 1, run.seq
        )
        while have < run.seq:
            lost = run.parts[have : min(run.seq, have + MAX_BATCH)]
            result = channel.publish_chunks(
                run.mid, have + 1, _frames(lost), _first_extra(run, have + 1)
            )
            if result == channel.CANCELLED:
                raise Cancelled()
            if result != channel.PUBLISHED:
                raise Lost()
            have += len(lost)


def _frames(parts: list[str | ToolCallDelta]) -> list[str | dict]:
    """What `channel.publish_chunks` takes: text as it is, a tool call fragment as its fields."""
    return [p if isinstance(p, str) else {"toolCall": p.as_dict()} for p in parts]


def _first_extra(run: Run, first_seq: int) -> dict | None:
    """The first chunk of an answer given by a fallback names the model (the API's `model`)."""
    if first_seq == 1 and run.answered_by:
        return {"modelId": run.answered_by["modelId"]}
    return None
