"""Calling the provider for a run: the request, its retries, and reading the stream.

A retryable failure (429, 5xx, a dropped connection) is tried again with backoff, but only while
nothing has been generated: once a delta exists, retrying would stream different text under
the same seqs. Between tries the run stops for a cancel or a lost lease.
"""

from __future__ import annotations

import time

from common import metrics
from common.conversations.history import history_for
from common.conversations.models import ChatMessage
from common.engine import outage
from common.engine.publisher import Publisher
from common.engine.run import Cancelled, Lost, Run
from common.providers.base import ALL_FAILURES, ChatRequest, Finish, TextDelta, Usage
from common.streaming import channel

MAX_PROVIDER_ATTEMPTS = 4
MAX_RETRY_WAIT = 10.0


def request_for(msg: ChatMessage, model) -> ChatRequest:
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


def stream_with_retries(run: Run, provider, request: ChatRequest) -> None:
    """Stream the answer into `run`, retrying retryable failures while nothing was generated."""
    for attempt in range(MAX_PROVIDER_ATTEMPTS):
        if attempt:
            _check(run)
        elif run.lost.is_set():
            # No cancel-flag round trip before the first attempt: a cancel made while pending
            # fails the claim, and the first chunk's publish checks the flag atomically.
            raise Lost()
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


def _sleep_or_cancel(run: Run, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        _check(run)
        time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))


def _check(run: Run) -> None:
    """Raise `Lost` or `Cancelled` if the run must stop."""
    if run.lost.is_set():
        raise Lost()
    try:
        cancelled = channel.cancel_requested(run.mid)
    except outage.REDIS_TRANSIENT:  # Redis is down: no cancel can have been asked
        return
    if cancelled:
        raise Cancelled()


def _consume(run: Run, events) -> None:
    publisher = Publisher(run)
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
