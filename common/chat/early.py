"""Asking the provider while the run is claimed: the task's copy of the request goes out first.

A run's own bookkeeping before the provider call — the lease, the claim pending → streaming,
the heartbeat, loading the model — is a few round trips, while the provider's first token takes
tens of milliseconds. So the send puts a copy of what the provider is to be asked on the task
(`hint`: the pending message's model, prompt and options, only for a prompt stored inline), and
the worker sends that request at once, in the background, while it claims the message.

Nothing reaches a client or the wallet before the claim is won: the run then builds its request
from the claimed message as always and takes the early answer only if it asked exactly that
(`take`); any other way — the claim lost (a cancel while pending, a redelivered task), another
request, the run stopped — the early answer is closed unread (`abandon`), which stops it
upstream. What it can cost is one provider request that is abandoned, never a user's token.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

from common.chat import catalog_cache
from common.chat.models import ChatMessage
from common.chat.provider_call import request_for
from common.providers.base import ChatRequest, Event
from common.providers.registry import provider_for
from common.streaming import channel

log = logging.getLogger(__name__)

# The pending message's fields a request is built from (`provider_call.request_for`).
HINT_FIELDS = ("modelId", "prompt", "metadata")
# A longer prompt is not copied onto the task (the broker carries it once per model).
HINT_MAX_CHARS = 16_384
# An early answer no run took or abandoned by then closes itself (its task never ran).
UNCLAIMED_SECONDS = 30.0


def hint_for(msg: ChatMessage) -> dict | None:
    """What the task carries for an early start: None unless the prompt is stored inline on
    the message and is short."""
    if msg.prompt is None or sum(len(t.get("content") or "") for t in msg.prompt) > HINT_MAX_CHARS:
        return None
    son = msg.to_mongo()
    return {f: son[f] for f in HINT_FIELDS if f in son}


def describe(hint: dict) -> str:
    """A hint as operators may see it (Flower, logs): the model and the size, not the text."""
    turns = hint.get("prompt") or []
    chars = sum(len(t.get("content") or "") for t in turns)
    return f"{hint.get('modelId')}: {len(turns)} turns, {chars} chars"


class EarlyAnswer:
    """The provider's answer to `request`, started now; its first event is read in the
    background, the rest by whoever `take`s it."""

    def __init__(self, message_id: str, provider, request: ChatRequest):
        self.message_id, self.provider, self.request = message_id, provider, request
        self._events: Iterator[Event] | None = None  # set once the first event (or error) is in
        self._first: list[Event] = []
        self._error: BaseException | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._taken = self._abandoned = False
        self._settled = threading.Event()  # taken or abandoned
        threading.Thread(target=self._open, name="early-answer", daemon=True).start()

    def _open(self) -> None:
        worth = not self._abandoned and self._worth_asking()
        if not worth:
            with self._lock:
                skip = not self._taken  # a run that took it already owns the message: ask
                self._abandoned = self._abandoned or skip
            if skip:
                self._settled.set()
                self._ready.set()
                return
        events = self.provider.stream_chat(self.request)
        try:
            self._first = [next(events)]
        except StopIteration:
            pass
        except BaseException as exc:  # raised to the taker, where the run's retries decide
            self._error = exc
        with self._lock:
            self._events = events
            abandoned = self._abandoned
        self._ready.set()
        if abandoned:
            events.close()
        elif not self._settled.wait(UNCLAIMED_SECONDS):
            self.abandon()

    def _worth_asking(self) -> bool:
        """Not for an answer already ended or cancelled (a cancel while pending, a task
        delivered again): its claim would fail. Unknown (Redis down): not asked."""
        try:
            return not channel.ended_or_cancelled(self.message_id)
        except Exception:
            return False

    def take(self, provider, request: ChatRequest) -> Iterator[Event] | None:
        """The answer's events if it asked `provider` exactly `request`; else it is abandoned
        and None is returned (the caller asks again)."""
        if provider is not self.provider or request != self.request:
            log.warning("early answer for %s did not match its claimed message", request.model)
            self.abandon()
            return None
        with self._lock:
            if self._abandoned:
                return None
            self._taken = True
        self._settled.set()
        return self._replay()

    def _replay(self) -> Iterator[Event]:
        self._ready.wait()
        try:
            if self._error is not None:
                raise self._error
            yield from self._first
            yield from self._events
        finally:
            self._events.close()

    def abandon(self) -> None:
        """Close the answer unread, now or as soon as its first event is in. Once taken, the
        taker closes it."""
        with self._lock:
            if self._taken or self._abandoned:
                return
            self._abandoned = True
            events = self._events
        self._settled.set()
        if events is not None:
            events.close()


def start(message_id: str, hint: dict | None) -> EarlyAnswer | None:
    """Ask the provider what `hint` says, in the background; None if there is nothing to ask
    or the model cannot be prepared from the cache (the run then prepares it as always)."""
    if not hint:
        return None
    try:
        msg = ChatMessage._from_son(hint)
        model = catalog_cache.model(msg.modelId)
        return EarlyAnswer(message_id, provider_for(model.provider), request_for(msg, model))
    except Exception as exc:  # the claimed message decides; an early start is only a head start
        log.info("no early start: %s", type(exc).__name__)
        return None


# Answers started when their task arrived (`prestart`), by message id, until its run takes one.
_arrived: dict[str, tuple[float, EarlyAnswer]] = {}
_arrived_lock = threading.Lock()


def prestart(message_id: str, hint: dict | None) -> None:
    """Start the answer as the task arrives, before the worker's task events and its pool; the
    run finds it with `started_for`."""
    answer = start(message_id, hint)
    if answer is None:
        return
    now = time.monotonic()
    with _arrived_lock:
        gone = [m for m, (at, _) in _arrived.items() if now - at > UNCLAIMED_SECONDS]
        dropped = [_arrived.pop(m)[1] for m in gone]
        replaced = _arrived.pop(message_id, None)
        _arrived[message_id] = (now, answer)
    for old in dropped + ([replaced[1]] if replaced else []):
        old.abandon()


def started_for(message_id: str, hint: dict | None) -> EarlyAnswer | None:
    """The answer started when this message's task arrived, else one started now."""
    with _arrived_lock:
        found = _arrived.pop(message_id, None)
    return found[1] if found is not None else start(message_id, hint)
