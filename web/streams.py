"""The web process's one Redis pub/sub listener, fanning stream frames out to its sockets.

One pub/sub connection per process, subscribed to the channels its sockets follow (`Hub`), read
on a daemon thread (a greenlet under gunicorn's gevent worker, which monkey-patches `threading`
and sockets before the app loads).
A `Subscription` attaches one socket to one message: it registers for live frames first, then
replays the buffer, then releases the live frames that arrived meanwhile — dropping any chunk
whose seq it already sent, so the client sees every chunk once, in order, with no gap.

Redis is not the only record of an ended answer: the message in MongoDB holds its final state.
A subscription that finds no final frame in Redis for a message the store says has ended (Redis
lost it, or the worker could not publish it) sends the final frame built from the message. The
hub's watchdog checks, every `WATCH_SECONDS`, the leases of the answers its sockets follow: a
streaming answer whose lease is gone lost its worker and is interrupted at once (the client hears
STREAM_INTERRUPTED within a lease and a second), and a followed answer that ended in the store
without its final frame reaching the socket gets it from the store.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable

from bson import ObjectId

from common import metrics
from common.conversations import sessions
from common.conversations.models import FINAL_STATUSES, ChatMessage
from common.engine import ending, liveness
from common.engine.frames import final_frame_for
from common.redis_client import get_redis
from common.streaming import channel

log = logging.getLogger(__name__)

WATCH_SECONDS = 1.0
# An answer final in the store whose final frame has not reached its socket after this long
# gets the frame built from the stored message.
FINAL_FROM_STORE_AFTER = 3.0


class Outbox:
    """Serialises every send to one socket on its own writer thread, so a slow client never
    stalls the listener or another socket. Frames that queue up while a write is in progress go
    out together in the next write (each its own websocket frame)."""

    def __init__(self, send: Callable[[list[str]], None]):
        self._send = send
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._writer: threading.Thread | None = None
        self.closed = False

    def put(self, text: str) -> None:
        if self.closed:
            return
        self._queue.put(text)
        if self._writer is None:
            with self._lock:
                if self._writer is None:
                    self._writer = threading.Thread(
                        target=self._drain, daemon=True, name="ws-writer"
                    )
                    self._writer.start()

    def _drain(self) -> None:
        while True:
            texts = [self._queue.get()]
            while texts[-1] is not None and not self._queue.empty():
                texts.append(self._queue.get_nowait())
            last = len(texts) if texts[-1] is not None else len(texts) - 1
            if self.closed:
                return
            try:
                if last:
                    self._send(texts[:last])
            except Exception:  # the socket is gone; the reader loop will notice and clean up
                self.closed = True
                return
            if last < len(texts):
                return

    def close(self) -> None:
        self.closed = True
        self._queue.put(None)

    def flush_and_close(self, timeout: float = 2.0) -> None:
        """Send what is queued, then stop (before the socket itself is closed)."""
        self._queue.put(None)
        writer = self._writer
        if writer is not None:
            writer.join(timeout)
        self.closed = True


class Subscription:
    def __init__(self, hub: Hub, outbox: Outbox, message_id: str, after_seq: int = 0):
        self.hub, self.outbox, self.message_id = hub, outbox, message_id
        self.last_seq = max(0, int(after_seq))
        self.ended = False
        self._ready = False
        self._pending: list[str] = []
        self._lock = threading.Lock()

    def start(self, stored: ChatMessage | None = None) -> None:
        """Go live: attach, replay what the buffer holds, then flush what arrived meanwhile.
        `stored`: the message as just read; if it has ended and Redis has no final frame,
        the final frame is built from it."""
        self.hub.attach(self)
        self.resync(stored)

    def attach_before_enqueue(self) -> None:
        """Subscribe to an answer whose task is not enqueued yet: nothing can have been
        published, so there is nothing to replay (no buffer read). Frames wait until
        `go_live` (the client must hear of the answer first)."""
        self.hub.attach(self)

    @property
    def live(self) -> bool:
        return self._ready

    def go_live(self) -> None:
        """Deliver what arrived since `attach_before_enqueue`, and everything after it."""
        with self._lock:
            for raw in self._pending:
                self._emit(raw)
            self._pending.clear()
            self._ready = True
        if self.ended:
            self.hub.detach(self)

    def resync(self, stored: ChatMessage | None = None, check_store: bool = False) -> None:
        frames = channel.buffered(self.message_id)
        with self._lock:
            for raw in frames:
                self._emit(raw)
            for raw in self._pending:
                self._emit(raw)
            self._pending.clear()
            self._ready = True
        if not self.ended and check_store:
            stored = sessions.find_message(self.message_id)
        if not self.ended and stored is not None and stored.status in FINAL_STATUSES:
            self.end_from_store(stored)
        if self.ended:
            self.hub.detach(self)

    def end_from_store(self, msg: ChatMessage) -> None:
        """Send the final frame of an ended message from its stored state (Redis has none)."""

        frame = json.dumps(final_frame_for(msg), separators=(",", ":"), default=str)
        with self._lock:
            self._emit(frame)
        if self.ended:
            self.hub.detach(self)

    def on_live(self, payload: str) -> None:
        """One pub/sub message: one frame, or several joined by newlines (`channel`)."""
        frames = channel.split_frames(payload)
        with self._lock:
            if not self._ready:
                self._pending.extend(frames)
                return
            for raw in frames:
                self._emit(raw)
        if self.ended:
            self.hub.detach(self)

    def stop(self) -> None:
        self.ended = True
        self.hub.detach(self)

    def _emit(self, raw: str) -> None:
        if self.ended:
            return
        seq = channel.chunk_seq(raw)
        if seq is None:  # the final frame: done, error or cancelled
            self.ended = True
        elif seq <= self.last_seq:
            return
        else:
            self.last_seq = seq
        self.outbox.put(raw)


class Hub:
    """Per-process registry of live subscriptions, fed by the process's one pub/sub connection.

    The connection is subscribed only to the channels of the messages this process's sockets
    follow: the first subscription to a message SUBSCRIBEs its channel (and waits for Redis to
    confirm, so the replay that follows cannot miss a frame); once the last one has left, the
    channel is UNSUBSCRIBEd with the others left since, by the watchdog each `WATCH_SECONDS`
    (one command for a whole burst of ended answers: nothing is published on an ended answer's
    channel, so the wait costs nothing). A private control channel keeps the connection subscribed while no socket
    follows anything. So a process receives the frames of its own sockets' answers, not every
    chunk of every answer in the fleet (bench/fanout.py measures the difference).
    """

    def __init__(self):
        self._subs: dict[str, set[Subscription]] = {}
        self._lock = threading.Lock()  # guards _subs, _waiting and every command on _pubsub
        self._waiting: dict[str, threading.Event] = {}  # channels sent, not yet confirmed
        self._leaving: set[str] = set()  # channels nobody follows, not yet unsubscribed
        self._pubsub = None
        self._control = f"aipasta:hub:{uuid.uuid4().hex}"
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._final_seen: dict[str, float] = {}  # final in the store, frame not yet sent

    def ensure_started(self, timeout: float = 10.0) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, daemon=True, name="stream-hub"
                    )
                    self._thread.start()
                    watchdog = threading.Thread(
                        target=self._watch, daemon=True, name="stream-watchdog"
                    )
                    watchdog.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the stream listener could not subscribe to Redis")

    def attach(self, sub: Subscription, timeout: float = 10.0) -> None:
        """Register `sub`; returns once its channel is subscribed (so a replay misses nothing)."""
        self.ensure_started()
        name = channel.channel(sub.message_id)
        with self._lock:
            subs = self._subs.setdefault(sub.message_id, set())
            first = not subs and name not in self._leaving  # leaving: still subscribed
            self._leaving.discard(name)
            subs.add(sub)
            if first and self._pubsub is not None:
                self._waiting[name] = threading.Event()
                self._pubsub.subscribe(name)
            confirmed = self._waiting.get(name)
        if confirmed is not None and not confirmed.wait(timeout):
            self.detach(sub)  # not left registered half-way (it would never replay)
            raise RuntimeError(f"Redis did not confirm the subscription to {name}")

    def detach(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._subs.get(sub.message_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[sub.message_id]
                    if self._pubsub is not None:
                        self._leaving.add(channel.channel(sub.message_id))

    def flush_unsubscribes(self) -> None:
        """UNSUBSCRIBE, in one command, every channel nobody has followed since it was left."""
        with self._lock:
            if self._leaving and self._pubsub is not None:
                self._pubsub.unsubscribe(*self._leaving)
            self._leaving.clear()

    def count(self) -> int:
        with self._lock:
            return sum(len(s) for s in self._subs.values())

    def channels(self) -> int:
        """How many message channels this process is subscribed to."""
        with self._lock:
            return len(self._subs)

    def _dispatch(self, channel_name: str, raw: str) -> None:
        metrics.stream_message_received()
        with self._lock:
            targets = list(self._subs.get(channel.message_id_of(channel_name), ()))
        for sub in targets:
            try:
                sub.on_live(raw)
            except Exception:
                log.exception("stream fan-out failed for %s", sub.message_id)

    def _confirmed(self, channel_name: str) -> None:
        if channel_name == self._control:  # subscribed last: every channel before it is live
            self._ready.set()
            self._resync_all()  # frames published while we were disconnected
            return
        with self._lock:
            waiter = self._waiting.pop(channel_name, None)
        if waiter is not None:
            waiter.set()

    def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                self._listen()
            except Exception:
                log.warning("stream listener lost Redis; reconnecting", exc_info=True)
            self._ready.clear()
            with self._lock:
                self._pubsub = None
                waiting, self._waiting = self._waiting, {}
                self._leaving.clear()  # the next connection subscribes to followed ones only
            for waiter in waiting.values():  # resubscribed on reconnect, then replayed
                waiter.set()
            time.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    def _listen(self) -> None:
        pubsub = get_redis().pubsub()
        try:
            with self._lock:
                names = [channel.channel(mid) for mid in self._subs]
                pubsub.subscribe(*names, self._control)
                self._pubsub = pubsub
            for msg in pubsub.listen():
                if msg["type"] == "message":
                    self._dispatch(msg["channel"], msg["data"])
                elif msg["type"] == "subscribe":
                    self._confirmed(msg["channel"])
        finally:
            pubsub.close()

    def _resync_all(self) -> None:
        """After a reconnect: replay what was missed; an answer that ended meanwhile and whose
        final frame Redis lacks (lost in a restart) gets it from the store."""
        with self._lock:
            subs = [s for group in self._subs.values() for s in group]
        for sub in subs:
            try:
                sub.resync(check_store=True)
            except Exception:
                log.exception("stream resync failed for %s", sub.message_id)

    # -- the watchdog ---------------------------------------------------------------------

    def _watch(self) -> None:
        while True:
            time.sleep(WATCH_SECONDS)
            try:
                self.flush_unsubscribes()
                self.watch_once()
            except Exception as exc:  # Redis or the database is down: next round
                log.warning("stream watchdog: %s", exc)

    def watch_once(self) -> None:
        """Interrupt followed answers whose worker died; end from the store those whose final
        frame never came."""
        with self._lock:
            followed = {mid: list(group) for mid, group in self._subs.items()}
        followed = {m: [s for s in g if not s.ended] for m, g in followed.items()}
        followed = {m: g for m, g in followed.items() if g}
        for mid in list(self._final_seen):
            if mid not in followed:
                del self._final_seen[mid]
        if not followed:
            return
        alive = channel.leases_alive(list(followed))
        unleased = [ObjectId(m) for m, up in alive.items() if not up and ObjectId.is_valid(m)]
        if not unleased:
            return
        found = sessions.messages_in(unleased, ["streaming", *FINAL_STATUSES])
        for msg in liveness.dead(found):  # the engine decides; a late worker is waited for
            ending.interrupt(msg)
        for msg in found:
            mid = str(msg.id)
            if msg.status == "streaming":
                continue
            first = self._final_seen.setdefault(mid, time.monotonic())
            if time.monotonic() - first >= FINAL_FROM_STORE_AFTER:
                for sub in followed[mid]:
                    sub.end_from_store(msg)
                self._final_seen.pop(mid, None)


hub = Hub()
