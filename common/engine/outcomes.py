"""What a run ended with, as settlement stores it: the charge by the rule, or the failure.

Pure bookkeeping over the run's state: nothing here writes. Charging follows
`common.wallet.pricing` at the rates the message was held at; a failure's stored error record
is built from its error class (`common.engine.errors.error_record`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from common.catalog import cache as catalog_cache
from common.conversations.models import ChatMessage
from common.conversations.tokens import estimate_tokens
from common.engine.errors import StreamInterrupted, error_record
from common.engine.run import Run
from common.errors import AppError
from common.providers.base import ProviderModeration
from common.wallet import pricing


@dataclass
class Outcome:
    status: str  # done | cancelled | failed | interrupted
    content: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    charge: int = 0
    cost: float = 0.0
    last_seq: int = 0
    error: dict | None = None
    ttft_ms: float | None = None
    duration_ms: float | None = None
    tokens_per_second: float | None = None
    moderation_reason: str | None = None
    estimated: bool = False  # the provider reported no usage; the counts are our estimate
    provider_cost: float | None = None  # the provider's own reported cost (USD), if sent
    tool_calls: list[dict] | None = None  # OpenAI's shape: [{id, type, function}]
    finish_reason: str | None = None  # the provider's: stop, length, tool_calls, ...
    # A fallback answered: its model id and rates replace the message's (charged at them).
    model_id: str | None = None
    rates: dict | None = None


def charged(run: Run, status: str) -> Outcome:
    """The charge by the rule (`common.wallet.pricing`), at the rates the message was held at.

    A cancelled answer is charged for the text its clients were sent (`run.published`). Tool
    calls are completion tokens like text. An answer given by a fallback model is charged at
    that model's rates (stored on the message with the fallback), and names it."""
    msg, usage = run.msg, run.usage
    text = run.text if status == "done" else run.published
    calls = run.tool_calls(published_only=status != "done")
    answered_by = run.answered_by if run.parts else None  # a fallback that generated
    rates = answered_by["rates"] if answered_by else msg.rates
    model_id = answered_by["modelId"] if answered_by else msg.modelId
    charge = pricing.charge_for(
        pricing.stored_rates(rates),
        msg.reserved,
        (usage.prompt_tokens, usage.completion_tokens) if usage else None,
        _prompt_estimate(msg),
        estimate_tokens(text + (json.dumps(calls) if calls else "")),
        generated=bool(run.parts),
    )
    reported = usage.cost if usage else None
    prompt, completion = charge.prompt_tokens, charge.completion_tokens
    cost = reported if reported is not None else _price(model_id, prompt, completion)
    outcome = Outcome(status, text, prompt, completion, charge.tokens, cost, run.seq)
    outcome.estimated, outcome.provider_cost = charge.estimated, reported
    outcome.tool_calls = calls or None
    outcome.finish_reason = run.finish if status == "done" else None
    if answered_by:
        outcome.model_id, outcome.rates = model_id, dict(rates)
    return _timed(run, outcome)


def _prompt_estimate(msg: ChatMessage) -> int:
    if msg.promptEstimate is not None:
        return msg.promptEstimate
    # Held before the estimate was stored: it was `reserved - maxTokens` at one token per token.
    return max(0, msg.reserved - (msg.metadata.maxTokens or 0)) if msg.metadata else 0


def _price(model_id: str, prompt: int, completion: int) -> float:
    """USD cost from the catalog's per-1K prices, when the provider did not report one."""
    try:
        pricing = catalog_cache.model(model_id).pricing
        inp = float(getattr(pricing, "input", 0) or 0)
        out = float(getattr(pricing, "output", 0) or 0)
        return round((prompt * inp + completion * out) / 1000.0, 10)
    except Exception:
        return 0.0


def failed(run: Run, exc: AppError) -> Outcome:
    details = dict(exc.details or {})
    error = error_record(exc, details=details, reason=details.get("reason", ""))
    outcome = Outcome("failed", run.text, last_seq=run.seq, error=error)
    if isinstance(exc, ProviderModeration):
        outcome.moderation_reason = exc.message
    return _timed(run, outcome)


def interrupted(text: str, last_seq: int) -> Outcome:
    """A run that died mid-stream: the text its clients were sent, nothing charged."""
    error = error_record(StreamInterrupted(), details={})
    return Outcome("interrupted", content=text, last_seq=last_seq, error=error)


def _timed(run: Run, outcome: Outcome) -> Outcome:
    end = time.monotonic()
    outcome.duration_ms = (end - run.started) * 1000
    if run.first_at is not None:
        outcome.ttft_ms = (run.first_at - run.started) * 1000
        streaming = max(1e-3, (run.last_at or end) - run.first_at)
        tokens = outcome.completion_tokens or estimate_tokens(run.text)
        outcome.tokens_per_second = tokens / streaming if run.seq > 1 else None
    return outcome
