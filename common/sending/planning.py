"""Planning a send, per model: the answer's id, the conversation it will see, the hold it needs.

Reads (the session's history, once) and computes; writes nothing — `send` and `estimate` both
plan, and only `send` goes on to hold and store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bson import ObjectId

from common.catalog import service as catalog
from common.conversations.tokens import estimate_prompt, estimate_tokens, trim
from common.conversations.tree import Tree, user_turn
from common.errors import ValidationError
from common.wallet import pricing


@dataclass
class Plan:
    model: Any  # catalog AIModel
    message_id: ObjectId
    max_tokens: int
    estimate: int  # the hold (common/wallet/pricing.hold_for)
    turns: list[dict] = field(default_factory=list)
    user_after: dict | None = None
    prompt_estimate: int = 0
    rates: pricing.Rates = pricing.LEGACY_RATES
    hold: dict | None = None  # the hold as placed (`wallet.Hold.placed()`), for the worker
    # Who answers if this model's provider fails first: [{"modelId", "rates"}], in order. The
    # hold (`estimate`) covers the dearest of them and the model.
    fallbacks: list[dict] = field(default_factory=list)


def plan_all(
    tree: Tree | None,
    follows: Any,
    text: str,
    models: list,
    max_tokens: int,
    prompt: list[dict] | None = None,
    params: dict | None = None,
    fallbacks: tuple[list, list] = ([], []),
    images: list[str] | None = None,
) -> list[Plan]:
    """Per model: the message id, the conversation it will see (trimmed to its context window)
    and the hold it needs. The conversation is the branch up to `follows` (the message the user
    turn follows, in `tree`; None: a new conversation) as this model saw it, then `text` (and
    `images`). A given `prompt` (the API's `messages`) is sent as it is: if it does not fit, the
    send is refused. `params` (tools, a response format) count in the prompt estimate, as
    providers count them; `fallbacks` are the (named, automatic) fallback models
    (`common.sending.fallbacks`). Writes nothing."""
    plans = []
    for model in models:
        window = int(getattr(model, "contextWindow", 0) or 4096)
        room = min(max_tokens, max(1, window // 2))
        if prompt is not None:
            turns = _fitting(prompt, window - room, model.modelId)
        else:
            takes_images = catalog.capabilities_of(model)["images"]
            earlier = tree.conversation(follows, model.modelId, takes_images) if tree else []
            turns = trim(earlier + [user_turn(text, images)], window - room)
        estimate = estimate_prompt(turns) + params_tokens(params)
        rates = catalog.rates_of(model)
        hold = pricing.hold_for(estimate, room, rates)
        plan = Plan(model, ObjectId(), room, hold, turns, prompt_estimate=estimate, rates=rates)
        _add_fallbacks(plan, *fallbacks)
        plans.append(plan)
    return plans


def params_tokens(params: dict | None) -> int:
    """Tool definitions and a response schema are read by the model as part of the prompt."""
    if not params:
        return 0
    counted = {k: params[k] for k in ("tools", "response_format") if params.get(k)}
    return estimate_tokens(json.dumps(counted)) if counted else 0


def _add_fallbacks(plan: Plan, named: list, automatic: list) -> None:
    """Named fallbacks must fit the conversation (else the request is refused); automatic ones
    are kept only if they fit and cost no more than the chosen model's hold."""
    need = plan.prompt_estimate + plan.max_tokens
    for model in [*named, *automatic]:
        window = int(getattr(model, "contextWindow", 0) or 4096)
        rates = catalog.rates_of(model)
        hold = pricing.hold_for(plan.prompt_estimate, plan.max_tokens, rates)
        if model in automatic and (window < need or hold > plan.estimate):
            continue
        if window < need:
            raise ValidationError(
                f"models: {model.modelId} has room for {window} tokens; this request needs "
                f"about {need}. Leave it out or shorten the conversation.",
                {"field": "models", "reason": "context_length_exceeded"},
            )
        plan.fallbacks.append({"modelId": model.modelId, "rates": rates.as_dict()})
        plan.estimate = max(plan.estimate, hold)


def _fitting(prompt: list[dict], budget: int, model_id: str) -> list[dict]:
    if estimate_prompt(prompt) > budget:
        raise ValidationError(
            f"messages: about {estimate_prompt(prompt)} tokens, more than {model_id} has room "
            f"for ({budget} with the completion's room). Shorten the conversation or lower "
            "max_tokens.",
            {"field": "messages", "reason": "context_length_exceeded"},
        )
    return [dict(turn) for turn in prompt]
