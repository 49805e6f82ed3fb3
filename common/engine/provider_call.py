"""Calling the provider for a run: the request, its retries, its fallbacks, reading the stream.

A retryable failure (429, 5xx, a timeout, a refused connection) is tried again, but only while
nothing has been generated: once a delta exists, retrying would stream different text under
the same seqs. A message with fallbacks (`ChatMessage.fallbacks`, an API request's `models` or
the same model through other providers) moves to the next one at once instead; the last one
tried gets the retries with backoff. Between tries the run stops for a cancel or a lost lease.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from common import metrics
from common.catalog import cache as catalog_cache
from common.catalog.service import capabilities_of
from common.conversations.history import history_for
from common.conversations.models import ChatMessage
from common.engine import outage
from common.engine.publisher import Publisher
from common.engine.run import Cancelled, Lost, Run
from common.providers import registry
from common.providers.base import (
    ALL_FAILURES,
    ChatRequest,
    Finish,
    Provider,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from common.streaming import channel

MAX_PROVIDER_ATTEMPTS = 4
MAX_RETRY_WAIT = 10.0


@dataclass(frozen=True)
class Candidate:
    """One model that may answer a run: the message's own, or a fallback (with its rates)."""

    provider: Provider
    request: ChatRequest
    fallback: dict | None = None  # {"modelId", "rates"} for a fallback


def request_for(msg: ChatMessage, model) -> ChatRequest:
    opts = msg.metadata
    max_tokens = opts.maxTokens if opts and opts.maxTokens else 1024
    window = int(getattr(model, "contextWindow", 0) or 4096)
    extra = dict(opts.params or {}) if opts else {}
    if opts and opts.stop:
        extra["stop"] = list(opts.stop)
    return ChatRequest(
        model=getattr(model, "providerModelId", None) or model.modelId,
        messages=list(msg.prompt)
        if msg.prompt
        else history_for(msg, window, max_tokens, capabilities_of(model)["images"]),
        temperature=opts.temperature if opts else None,
        max_tokens=max_tokens,
        top_p=opts.topP if opts else None,
        extra=extra,
    )


def candidates_for(msg: ChatMessage) -> list[Candidate]:
    """The message's model, then its fallbacks, each with its provider and request."""
    model = catalog_cache.model(msg.modelId)
    request = request_for(msg, model)
    out = [Candidate(registry.provider_for(model.provider), request)]
    for fallback in msg.fallbacks or []:
        other = catalog_cache.model(fallback["modelId"])
        other_request = ChatRequest(
            **{**request.__dict__, "model": other.providerModelId or other.modelId}
        )
        out.append(Candidate(registry.provider_for(other.provider), other_request, fallback))
    return out


def stream_with_retries(run: Run, candidates: list[Candidate]) -> None:
    """Stream the answer into `run`: retryable failures before anything was generated move to
    the next candidate, and are retried with backoff on the last one."""
    index, tries = 0, 0
    while True:
        candidate = candidates[index]
        if index or tries:
            _check(run)
        elif run.lost.is_set():
            # No cancel-flag round trip before the first attempt: a cancel made while pending
            # fails the claim, and the first chunk's publish checks the flag atomically.
            raise Lost()
        run.answered_by = candidate.fallback
        try:
            _consume(run, candidate.provider.stream_chat(candidate.request))
            return
        except ALL_FAILURES as exc:
            name = getattr(candidate.provider, "name", "")
            metrics.provider_error(name, exc)
            if run.parts or not exc.retryable:
                raise
            if index < len(candidates) - 1:
                index += 1
                metrics.provider_fallback(name, getattr(candidates[index].provider, "name", ""))
                continue
            tries += 1
            if tries >= MAX_PROVIDER_ATTEMPTS:
                raise
            _sleep_or_cancel(run, _backoff(tries - 1, getattr(exc, "retry_after", None)))


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
            elif isinstance(event, ToolCallDelta):
                publisher.put(event)
            elif isinstance(event, Usage):
                run.usage = event
            elif isinstance(event, Finish):
                run.finish = event.reason
    finally:
        close = getattr(events, "close", None)
        if close:
            close()  # stops the generation upstream on cancel
        publisher.close()  # what arrived is published (or the cancel that stopped it raised)
