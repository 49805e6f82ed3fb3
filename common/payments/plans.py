"""The plans on sale: listing, lookup, their JSON, and the default catalogue.

A plan's JSON says what its tokens buy (`buys`, and a sentence added to `description`): how many
typical answers (`common.wallet.pricing.typical_cost`) on a free model and, for plans that
unlock paid models, on the `REFERENCE_MODELS` the catalog has, at today's rates.
"""

from __future__ import annotations

from typing import Any

from common.catalog import service as catalog
from common.errors import NotFound
from common.payments.models import Plan, PlanLimits
from common.payments.subscriptions import limits_for
from common.wallet import pricing
from config import get_settings

# The paid models a plan's "≈ N answers on X" names, when the catalog has them.
REFERENCE_MODELS = ("openai/gpt-4o", "anthropic/claude-3.5-sonnet")

# Token packs (durationDays 0) only add purchased tokens; plans also set the subscription.
DEFAULT_PLANS: list[dict[str, Any]] = [
    {
        "id": "tokens-50k",
        "name": "Token Pack 50K",
        "description": "50,000 tokens for the models your plan includes. They never expire.",
        "price": 9_900,
        "tokens": 50_000,
        "plan": "free",
        "durationDays": 0,
        "sortOrder": 10,
    },
    {
        "id": "tokens-250k",
        "name": "Token Pack 250K",
        "description": "250,000 tokens for the models your plan includes. They never expire.",
        "price": 39_900,
        "tokens": 250_000,
        "plan": "free",
        "durationDays": 0,
        "sortOrder": 20,
    },
    {
        "id": "pro-monthly",
        "name": "Pro",
        "description": "30 days of Pro: paid models, 1,000 requests a day, and 500,000 tokens.",
        "price": 49_900,
        "tokens": 500_000,
        "plan": "pro",
        "durationDays": 30,
        "unlocksPaidModels": True,
        "sortOrder": 30,
    },
    {
        "id": "enterprise-monthly",
        "name": "Enterprise",
        "description": "30 days of Enterprise: paid models, 10,000 requests a day, 5M tokens.",
        "price": 2_99_900,
        "tokens": 5_000_000,
        "plan": "enterprise",
        "durationDays": 30,
        "unlocksPaidModels": True,
        "sortOrder": 40,
    },
]


def plan_limits(plan: Plan) -> dict[str, int]:
    own = plan.limits.to_mongo().to_dict() if plan.limits else None
    return limits_for(plan.plan, own)


def buys(plan: Plan) -> list[dict[str, Any]]:
    """How many typical answers the plan's tokens buy: on a free model, then (for plans that
    unlock paid models) on each reference model the catalog offers."""
    tariff = pricing.Tariff.from_settings(get_settings())
    free = pricing.rates_for(0, 0, tariff)
    out = [{"modelId": None, "name": "a free model", "answers": _answers(plan, free)}]
    if plan.unlocksPaidModels:
        docs = catalog.models_by_id(list(REFERENCE_MODELS))
        for model_id in REFERENCE_MODELS:
            doc = docs.get(model_id)
            if doc is not None and doc.isAvailable and catalog.sellable(doc):
                answers = _answers(plan, catalog.rates_of(doc))
                out.append({"modelId": model_id, "name": doc.name, "answers": answers})
    return out


def _answers(plan: Plan, rates: pricing.Rates) -> int:
    return pricing.answers_for(plan.tokens or 0, rates)


def _buys_sentence(bought: list[dict[str, Any]]) -> str:
    parts = [f"≈ {b['answers']:,} answers on {b['name']}" for b in bought]
    typical = f"{pricing.TYPICAL_PROMPT_TOKENS} tokens in, {pricing.TYPICAL_COMPLETION_TOKENS} out"
    return f"Its tokens buy {', '.join(parts)} (a typical answer: {typical})."


def to_json(plan: Plan) -> dict[str, Any]:
    bought = buys(plan) if plan.tokens else []
    description = plan.description or ""
    if bought:
        description = f"{description} {_buys_sentence(bought)}".strip()
    return {
        "id": plan.id,
        "name": plan.name,
        "description": description,
        "buys": bought,
        "price": plan.price,
        "currency": plan.currency,
        "tokens": plan.tokens,
        "plan": plan.plan,
        "durationDays": plan.durationDays,
        "limits": plan_limits(plan),
        "unlocksPaidModels": plan.unlocksPaidModels,
        "isActive": plan.isActive,
    }


def active_plans() -> list[Plan]:
    return list(Plan.objects(isActive=True).order_by("sortOrder", "price"))


def get_active(plan_id: str) -> Plan:
    plan = Plan.objects(id=plan_id, isActive=True).first()
    if plan is None:
        raise NotFound("No such plan on sale.", {"planId": plan_id})
    return plan


def seed_defaults(overwrite: bool = False) -> tuple[int, int]:
    """Create the default plans that are missing (all of them again with `overwrite`).

    Idempotent: existing plans, and any edits made to them, are kept unless `overwrite`.
    Returns (written, kept).
    """
    written = kept = 0
    for spec in DEFAULT_PLANS:
        if Plan.objects(id=spec["id"]).first() and not overwrite:
            kept += 1
            continue
        fields = {k: v for k, v in spec.items() if k != "limits"}
        plan = Plan(**fields, limits=PlanLimits(**spec["limits"]) if "limits" in spec else None)
        plan.save()
        written += 1
    return written, kept
