"""The charging rule, in one place: rates, the hold for a send, the charge for an outcome.

Pure functions of their arguments (no database, no settings lookups): callers pass the facts in
and store what these return. The formula is documented in docs/chat.md ("What an answer costs").

- A model's **rate** is what it costs in wallet tokens per 1,000 prompt tokens and per 1,000
  completion tokens. From a provider price `p` (USD per token):

      cost rate = p × 1000 × USD_INR / TOKEN_VALUE_INR      (wallet tokens that pay the provider)
      rate      = max(⌈cost rate × (1 + PRICE_MARGIN)⌉, ⌈cost rate⌉, FREE_MODEL_RATE)

  The second term is the floor that no margin setting can undercut (never sold below provider
  cost at the token's value); the third keeps a paid model from costing less than a free one.
  A free model (both prices zero) therefore costs `FREE_MODEL_RATE` on both sides.
- The **hold** for a send is the prompt estimate and `maxTokens` at the model's rates.
- The **charge** is the provider's reported usage at the rates the message was held at, or our
  estimate when the provider reported none (flagged `estimated`), and never more than the hold.
  A cancelled answer is charged the same way for what was generated (the whole prompt and the
  completion so far); cancelled before anything was generated, it is charged nothing.

Token counts × rates are rounded up to a whole wallet token, once per answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PER = 1000  # rates are per this many model tokens
# A "typical answer" for the model list and the plans' "≈ N answers" (docs/chat.md).
TYPICAL_PROMPT_TOKENS = 500
TYPICAL_COMPLETION_TOKENS = 500
# Above this (USD per token, i.e. $10,000 per million) a price is taken as a catalog error.
MAX_PRICE_PER_TOKEN = 0.01


@dataclass(frozen=True)
class Tariff:
    """The documented settings the rates derive from (config: TOKEN_VALUE_INR, USD_INR, ...)."""

    token_value_inr: float  # what one wallet token is worth, in rupees
    usd_inr: float  # rupees per US dollar
    margin: float  # added to the provider's cost (0.25 = 25 %)
    free_rate: int  # wallet tokens per 1K tokens on a free model (prompt and completion)

    @classmethod
    def from_settings(cls, settings) -> Tariff:
        return cls(
            token_value_inr=settings.token_value_inr,
            usd_inr=settings.usd_inr,
            margin=settings.price_margin,
            free_rate=settings.free_model_rate,
        )


@dataclass(frozen=True)
class Rates:
    """Wallet tokens per 1,000 prompt and per 1,000 completion tokens."""

    prompt: int
    completion: int

    def as_dict(self) -> dict[str, int]:
        return {"prompt": self.prompt, "completion": self.completion}

    @classmethod
    def from_dict(cls, d: dict) -> Rates:
        return cls(int(d["prompt"]), int(d["completion"]))


# Messages held before rates were stored on them were held at one wallet token per token.
LEGACY_RATES = Rates(PER, PER)


def stored_rates(stored: dict | None) -> Rates:
    """The rates stored on a message (`LEGACY_RATES` for one held before rates were stored)."""
    return Rates.from_dict(stored) if stored else LEGACY_RATES


@dataclass(frozen=True)
class Charge:
    """What one answer is charged, as its receipt shows it."""

    prompt_tokens: int
    completion_tokens: int
    estimated: bool  # True when the provider reported no usage
    tokens: int  # wallet tokens to charge, never above the hold


def price_problem(prompt_price: object, completion_price: object) -> str | None:
    """Why a model's prices cannot be sold (None when they can): each must be a finite number
    between 0 and `MAX_PRICE_PER_TOKEN` USD per token."""
    for side, price in (("prompt", prompt_price), ("completion", completion_price)):
        if isinstance(price, bool) or not isinstance(price, int | float):
            return f"{side} price is not a number"
        if not math.isfinite(price):
            return f"{side} price is not finite"
        if price < 0:
            return f"{side} price is negative"
        if price > MAX_PRICE_PER_TOKEN:
            return f"{side} price is absurd (over ${MAX_PRICE_PER_TOKEN} per token)"
    return None


def is_free(prompt_price: float, completion_price: float) -> bool:
    """Free means both prices are zero (an id ending in `:free` is not enough)."""
    return prompt_price == 0 and completion_price == 0


def cost_rate(price_per_token: float, tariff: Tariff) -> float:
    """Wallet tokens per 1K tokens that pay exactly the provider's price, at the token's value."""
    return price_per_token * PER * tariff.usd_inr / tariff.token_value_inr


def _up(x: float) -> int:
    """Round up, ignoring float noise below a millionth (2125.0000000001 is 2125)."""
    return math.ceil(round(x, 6))


def rate_for(price_per_token: float, tariff: Tariff) -> int:
    cost = cost_rate(price_per_token, tariff)
    return max(_up(cost * (1 + tariff.margin)), _up(cost), tariff.free_rate)


def rates_for(prompt_price: float, completion_price: float, tariff: Tariff) -> Rates:
    """A model's rates from its provider prices (USD per token); `ValueError` for bad prices."""
    problem = price_problem(prompt_price, completion_price)
    if problem:
        raise ValueError(problem)
    return Rates(rate_for(prompt_price, tariff), rate_for(completion_price, tariff))


def tokens_for(prompt_tokens: int, completion_tokens: int, rates: Rates) -> int:
    """Wallet tokens for these model tokens at `rates`, rounded up to a whole token."""
    units = max(0, int(prompt_tokens)) * rates.prompt + max(0, int(completion_tokens)) * (
        rates.completion
    )
    return -(-units // PER)


def hold_for(prompt_estimate: int, max_tokens: int, rates: Rates) -> int:
    """The hold a send places: the prompt estimate and all of `maxTokens` at the rates."""
    return tokens_for(prompt_estimate, max_tokens, rates)


def likely_for(prompt_estimate: int, max_tokens: int, rates: Rates) -> int:
    """A likely charge: the prompt and a typical answer's length (at most `maxTokens`)."""
    return tokens_for(prompt_estimate, min(max_tokens, TYPICAL_COMPLETION_TOKENS), rates)


def typical_cost(rates: Rates) -> int:
    """What a typical answer (500 prompt + 500 completion tokens) costs at `rates`."""
    return tokens_for(TYPICAL_PROMPT_TOKENS, TYPICAL_COMPLETION_TOKENS, rates)


def answers_for(tokens: int, rates: Rates) -> int:
    """How many typical answers `tokens` wallet tokens buy at `rates`."""
    return int(tokens) // typical_cost(rates)


def charge_for(
    rates: Rates,
    hold: int,
    usage: tuple[int, int] | None,
    prompt_estimate: int,
    completion_estimate: int,
    generated: bool = True,
) -> Charge:
    """The charge for a finished or cancelled answer.

    `usage` is the provider's (prompt, completion) report, or None when it sent none; then the
    stored prompt estimate and `completion_estimate` (from the generated text) stand in, and the
    receipt says so. `generated=False` (cancelled before the first delta, no report) charges
    nothing. The result never exceeds `hold`.
    """
    if usage is not None:
        prompt, completion, estimated = int(usage[0]), int(usage[1]), False
    elif not generated:
        prompt, completion, estimated = 0, 0, False
    else:
        prompt, completion, estimated = int(prompt_estimate), int(completion_estimate), True
    tokens = min(tokens_for(prompt, completion, rates), max(0, int(hold)))
    return Charge(prompt, completion, estimated, tokens)


def receipt(
    charge: Charge, rates: Rates, provider_cost: float | None, from_free: int = 0, from_purchased=0
) -> dict:
    """The receipt as DESIGN.md shapes it (the free/purchased split is the wallet's answer)."""
    out = {
        "promptTokens": charge.prompt_tokens,
        "completionTokens": charge.completion_tokens,
        "estimated": charge.estimated,
        "rates": rates.as_dict(),
        "charged": charge.tokens,
        "fromFree": int(from_free),
        "fromPurchased": int(from_purchased),
    }
    if provider_cost is not None:
        out["providerCost"] = provider_cost
    return out
