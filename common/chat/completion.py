"""Running one answer (DESIGN.md chat flow, steps 2-5): claim, stream, settle — exactly once.

`complete(message_id)` may run any number of times for one message (Celery delivers at least
once). It owns the message only if it both takes the Redis lease (`SET NX`, kept alive by a
heartbeat while streaming) and wins the conditional update pending → streaming. Any other run
finds the message final (and finishes its settlement if a crash cut it short), or streaming
under a live lease (and stops), or streaming under a dead lease (its runner died: interrupted).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

from bson import ObjectId

from common import metrics
from common.chat import catalog_cache, outage, settlement
from common.chat.errors import SettlementDeferred, StreamInterrupted
from common.chat.models import FINAL_STATUSES, ChatMessage
from common.chat.settlement import Outcome
from common.chat.tokens import estimate_tokens, history_for
from common.errors import AppError, ServiceUnavailable
from common.providers.base import (
    ALL_FAILURES,
    ChatRequest,
    Finish,
    ProviderModeration,
    ProviderStreamError,
    TextDelta,
    Usage,
)
from common.stored import object_id_or_none, utcnow
from common.streaming import channel
from common.wallet import pricing
from config import get_settings

log = logging.getLogger(__name__)

MAX_PROVIDER_ATTEMPTS = 4
# The answers this process is running, by message id (a draining worker stops them).
running: dict[str, _Run] = {}
MAX_RETRY_WAIT = 10.0


@dataclass
class _Run:
    msg: ChatMessage
    token: str
    started: float = field(default_factory=time.monotonic)
    first_at: float | None = None
    last_at: float | None = None
    seq: int = 0  # chunks published (stored in Redis); `parts` may run ahead during an outage
    parts: list[str] = field(default_factory=list)  # every delta generated, in order
    usage: Usage | None = None
    lost: threading.Event = field(default_factory=threading.Event)

    @property
    def mid(self) -> str:
        return str(self.msg.id)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def published(self) -> str:
        """The text its clients were sent (a cancel stops short of what is still queued)."""
        return "".join(self.parts[: self.seq])


class _Cancelled(Exception):
    pass


class _Lost(Exception):
    """Another runner (the reaper) ended this message; stop without touching it."""


def complete(message_id: str) -> str:
    """Run the answer for `message_id`; returns what happened (for logs and tests)."""
    oid = object_id_or_none(message_id)
    if oid is None:
        return "missing"
    token = uuid.uuid4().hex
    lease = get_settings().hold_lease_seconds
    if not channel.take_lease(message_id, token, lease):
        return "owned-elsewhere"
    try:
        claimed = _claim(oid, token)  # the common case first: one round trip, no prior read
        if claimed is None:
            return _not_claimed(message_id)
        run = _Run(claimed, token)
        running[message_id] = run
        with _Heartbeat(run, lease):
            return _stream(run)
    finally:
        running.pop(message_id, None)
        try:
            channel.drop_lease(message_id, token)
        except outage.REDIS_TRANSIENT:  # it expires by itself
            log.warning("could not drop the lease of %s", message_id)


def _load(message_id: str) -> ChatMessage | None:
    oid = object_id_or_none(message_id)
    return ChatMessage.objects(id=oid).first() if oid else None


def _claim(oid: ObjectId, token: str) -> ChatMessage | None:
    """pending → streaming under `token`; retried through a database blip (a retry whose
    earlier try went through finds the message streaming under its own token)."""

    def attempt():
        now = utcnow()
        doc = settlement.messages().find_one_and_update(
            {"_id": oid, "status": "pending"},
            {
                "$set": {
                    "status": "streaming",
                    "claimToken": token,
                    "startedAt": now,
                    "updatedAt": now,
                },
                "$inc": {"attempts": 1},
            },
            return_document=True,
        )
        if doc is None:
            doc = settlement.messages().find_one(
                {"_id": oid, "status": "streaming", "claimToken": token}
            )
        return doc

    doc = outage.retrying(attempt, f"claiming {oid}", outage.DB_TRANSIENT)
    return ChatMessage._from_son(doc) if doc else None


def _not_claimed(message_id: str) -> str:
    """We hold the lease but the message was not pending: it is final or its runner died."""
    msg = _load(message_id)
    if msg is None:
        return "missing"
    if msg.status in FINAL_STATUSES:
        settlement.finish(msg)
        return "already-final"
    if not channel.leases_trustworthy(get_settings().hold_lease_seconds):
        return "owned-elsewhere"  # Redis just restarted: its runner may be about to re-take it
    interrupt(msg)
    return "interrupted"


def interrupt(msg: ChatMessage) -> ChatMessage | None:
    """End a streaming message whose runner is gone: not charged, client told — unless the
    runner left an outcome it could not store (the database was down): that one is applied."""
    stashed = settlement.end_stashed(msg)
    if stashed is not None:
        return stashed
    mid = str(msg.id)
    text = "".join(_buffered_deltas(mid))
    err = StreamInterrupted()
    outcome = Outcome(
        "interrupted",
        content=text,
        last_seq=channel.chunk_count(mid),
        error={"code": err.code, "message": err.message, "details": {}, "status": err.status},
    )
    return settlement.end(msg, outcome, {"status": "streaming", "attempts": msg.attempts})


def _buffered_deltas(mid: str) -> list[str]:
    import json

    out = []
    for raw in channel.buffered(mid):
        frame = json.loads(raw)
        if frame.get("type") == "chunk":
            out.append(frame.get("delta", ""))
    return out


# -- streaming ----------------------------------------------------------------------------------


def _stream(run: _Run) -> str:
    from common.providers.registry import provider_for

    def prepare():
        model = catalog_cache.model(run.msg.modelId)
        return provider_for(model.provider), _request(run.msg, model)

    try:
        provider, request = outage.retrying(prepare, f"preparing {run.mid}", outage.DB_TRANSIENT)
        _with_retries(run, provider, request)
    except _Cancelled:
        return _end(run, _charged_outcome(run, "cancelled"))
    except _Lost:
        return "lost"
    except ALL_FAILURES as exc:
        return _end(run, _failed_outcome(run, exc))
    except AppError as exc:
        return _end(run, _failed_outcome(run, exc))
    except outage.OUR_DEPENDENCIES as exc:
        # Our own store failed past its retries: never blamed on the provider.
        log.warning("chat.complete %s: %s", run.mid, exc)
        error = ServiceUnavailable(
            "Our service had an outage during this answer. You were not charged; please retry.",
            {"reason": "dependency", "error": type(exc).__name__},
        )
        return _end(run, _failed_outcome(run, error))
    except Exception as exc:
        log.exception("chat.complete %s failed", run.mid)
        return _end(
            run, _failed_outcome(run, ProviderStreamError(details={"error": type(exc).__name__}))
        )
    return _end(run, _charged_outcome(run, "done"))


def _request(msg: ChatMessage, model) -> ChatRequest:
    opts = msg.metadata
    max_tokens = opts.maxTokens if opts and opts.maxTokens else 1024
    window = int(getattr(model, "contextWindow", 0) or 4096)
    return ChatRequest(
        model=getattr(model, "providerModelId", None) or model.modelId,
        messages=list(msg.prompt) if msg.prompt else history_for(msg, window, max_tokens),
        temperature=opts.temperature if opts else None,
        max_tokens=max_tokens,
        top_p=opts.topP if opts else None,
        extra={"stop": list(opts.stop)} if opts and opts.stop else {},
    )


def _with_retries(run: _Run, provider, request: ChatRequest) -> None:
    """Retry retryable failures with backoff, but only while nothing has been published."""
    for attempt in range(MAX_PROVIDER_ATTEMPTS):
        if attempt:
            _check(run)
        elif run.lost.is_set():
            # No cancel-flag round trip before the first attempt: a cancel made while pending
            # fails the claim, and the first chunk's publish checks the flag atomically.
            raise _Lost()
        try:
            _consume(run, provider.stream_chat(request))
            return
        except ALL_FAILURES as exc:
            metrics.provider_error(getattr(provider, "name", ""), exc)
            if run.parts or not exc.retryable or attempt == MAX_PROVIDER_ATTEMPTS - 1:
                raise
            _sleep_or_cancel(run, _backoff(attempt, getattr(exc, "retry_after", None)))


def _backoff(attempt: int, retry_after: float | None) -> float:
    if retry_after:
        return min(float(retry_after), MAX_RETRY_WAIT)
    return min(0.25 * 2**attempt, MAX_RETRY_WAIT)


def _sleep_or_cancel(run: _Run, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        _check(run)
        time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))


def _check(run: _Run) -> None:
    if run.lost.is_set():
        raise _Lost()
    try:
        cancelled = channel.cancel_requested(run.mid)
    except outage.REDIS_TRANSIENT:  # Redis is down: no cancel can have been asked
        return
    if cancelled:
        raise _Cancelled()


def _consume(run: _Run, events) -> None:
    publisher = _Publisher(run)
    try:
        for event in events:
            if isinstance(event, TextDelta):
                if event.text:
                    publisher.put(event.text)
            elif isinstance(event, Usage):
                run.usage = event
            elif isinstance(event, Finish):
                pass
    finally:
        close = getattr(events, "close", None)
        if close:
            close()  # stops the generation upstream on cancel
        publisher.close()  # what arrived is published (or the cancel that stopped it raised)


MAX_BATCH = 64  # deltas per publish call


class _Publisher:
    """Publishes a run's deltas from its own thread (a greenlet under the gevent pool).

    The reading loop hands each delta over (it joins `run.parts`) and goes straight back to the
    provider. While one publish round trip is in flight, the deltas that arrive meanwhile queue
    up and go together in the next call, each still its own frame and seq. Without a backlog
    that is one call per delta, made as soon as it arrives; under load, far fewer round trips
    than deltas.

    Redis down: the publish is retried (backoff to 1 s) while the reading loop goes on; once the
    provider has finished, the backlog waits at most `OUTAGE_RETRY_SECONDS` more, then the run
    ends with what it generated (`unpublished` set). Redis back without its data (a restart):
    the chunks it lost are stored again from `run.parts` first, so seq continues with no gap.
    """

    def __init__(self, run: _Run):
        self.run = run
        self._closing = False
        self._give_up_at: float | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self.failure: BaseException | None = None
        self.unpublished = False
        self._thread = threading.Thread(target=self._loop, name=f"publish-{run.mid}", daemon=True)
        self._thread.start()

    def put(self, text: str) -> None:
        if self.failure is not None:
            raise self.failure  # a cancel or a lost lease stopped the stream
        with self._lock:
            self.run.parts.append(text)
        self._wake.set()

    def close(self) -> None:
        """Publish what is queued, then stop; raises whatever stopped the publishing."""
        with self._lock:
            self._closing = True
            self._give_up_at = time.monotonic() + outage.bound()
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
                    if not self._publish(batch):
                        return
                elif closing:
                    return
                else:
                    self._wake.wait()
        except BaseException as exc:  # handed to the reading loop by `put` / `close`
            self.failure = exc

    def _publish(self, batch: list[str]) -> bool:
        """Store and publish `batch`; False if Redis stayed down past the closing bound."""
        run = self.run
        wait = outage.FIRST_WAIT
        while True:
            if run.lost.is_set():
                raise _Lost()
            try:
                result = channel.publish_chunks(run.mid, run.seq + 1, batch)
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
            raise _Cancelled()
        if result != channel.PUBLISHED:
            raise _Lost()
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
            result = channel.publish_chunks(run.mid, have + 1, lost)
            if result == channel.CANCELLED:
                raise _Cancelled()
            if result != channel.PUBLISHED:
                raise _Lost()
            have += len(lost)


# -- outcomes -----------------------------------------------------------------------------------


def _prompt_estimate(msg: ChatMessage) -> int:
    if msg.promptEstimate is not None:
        return msg.promptEstimate
    # Held before the estimate was stored: it was `reserved - maxTokens` at one token per token.
    return max(0, msg.reserved - (msg.metadata.maxTokens or 0)) if msg.metadata else 0


def _charged_outcome(run: _Run, status: str) -> Outcome:
    """The charge by the rule (`common.wallet.pricing`), at the rates the message was held at.

    A cancelled answer is charged for the text its clients were sent (`run.published`)."""
    msg, usage = run.msg, run.usage
    text = run.text if status == "done" else run.published
    charge = pricing.charge_for(
        pricing.stored_rates(msg.rates),
        msg.reserved,
        (usage.prompt_tokens, usage.completion_tokens) if usage else None,
        _prompt_estimate(msg),
        estimate_tokens(text),
        generated=bool(run.parts),
    )
    reported = usage.cost if usage else None
    prompt, completion = charge.prompt_tokens, charge.completion_tokens
    cost = reported if reported is not None else _price(msg.modelId, prompt, completion)
    outcome = Outcome(status, text, prompt, completion, charge.tokens, cost, run.seq)
    outcome.estimated, outcome.provider_cost = charge.estimated, reported
    return _timed(run, outcome)


def _price(model_id: str, prompt: int, completion: int) -> float:
    """USD cost from the catalog's per-1K prices, when the provider did not report one."""
    try:
        pricing = catalog_cache.model(model_id).pricing
        inp = float(getattr(pricing, "input", 0) or 0)
        out = float(getattr(pricing, "output", 0) or 0)
        return round((prompt * inp + completion * out) / 1000.0, 10)
    except Exception:
        return 0.0


def _failed_outcome(run: _Run, exc: AppError) -> Outcome:
    error = {
        "code": exc.code,
        "message": exc.message,
        "details": dict(exc.details or {}),
        "reason": (exc.details or {}).get("reason", ""),
        "status": exc.status,
    }
    outcome = Outcome("failed", run.text, last_seq=run.seq, error=error)
    if isinstance(exc, ProviderModeration):
        outcome.moderation_reason = exc.message
    return _timed(run, outcome)


def _timed(run: _Run, outcome: Outcome) -> Outcome:
    end = time.monotonic()
    outcome.duration_ms = (end - run.started) * 1000
    if run.first_at is not None:
        outcome.ttft_ms = (run.first_at - run.started) * 1000
        streaming = max(1e-3, (run.last_at or end) - run.first_at)
        tokens = outcome.completion_tokens or estimate_tokens(run.text)
        outcome.tokens_per_second = tokens / streaming if run.seq > 1 else None
    return outcome


def _end(run: _Run, outcome: Outcome) -> str:
    try:
        final = settlement.end(run.msg, outcome, {"status": "streaming", "claimToken": run.token})
    except SettlementDeferred:  # the database stayed down; the reaper applies the kept outcome
        return "deferred"
    return outcome.status if final is not None else "lost"


class _Heartbeat:
    """Keeps the lease alive while this run streams; flags the run if the lease was lost."""

    def __init__(self, run: _Run, lease: float):
        self.run, self.lease = run, lease
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"lease-{run.mid}", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(2)

    def _beat(self):
        while not self.stop.wait(self.lease / 3):
            try:
                if not channel.refresh_lease(self.run.mid, self.run.token, self.lease):
                    self.run.lost.set()
                    return
            except Exception as exc:  # Redis blip: try again next beat
                log.warning("lease refresh failed for %s: %s", self.run.mid, exc)
