"""The charging rule (common/wallet/pricing.py): pure functions, no services needed."""

from __future__ import annotations

import math

import pytest

from common.payments.plans import DEFAULT_PLANS
from common.wallet import pricing
from common.wallet.pricing import Rates, Tariff
from config import Settings
from tests.fakes.catalog_data import default_models

# Round numbers so every expectation below can be checked by hand.
T = Tariff(token_value_inr=0.001, usd_inr=100.0, margin=0.25, free_rate=1000)


def test_rates_from_prices_add_the_margin_and_round_up():
    # $0.00002 per token = $0.02 per 1K = ₹2 per 1K = 2,000 tokens at ₹0.001; +25 % = 2,500.
    assert pricing.cost_rate(0.00002, T) == pytest.approx(2000)
    assert pricing.rates_for(0.00002, 0.00004, T) == Rates(2500, 5000)
    # 0.0000123 → cost 1,230 → ×1.25 = 1,537.5 → 1,538 (never rounded down).
    assert pricing.rate_for(0.0000123, T) == 1538


def test_float_noise_does_not_round_a_whole_rate_up():
    # 0.00001 × 1000 × 85 / 0.0005 × 1.25 is 2125.0000000000005 in floats.
    tariff = Tariff(0.0005, 85.0, 0.25, 1000)
    assert pricing.rate_for(0.00001, tariff) == 2125


def test_free_models_cost_the_free_rate_on_both_sides():
    assert pricing.is_free(0, 0) and not pricing.is_free(0, 1e-6) and not pricing.is_free(1e-6, 0)
    assert pricing.rates_for(0, 0, T) == Rates(1000, 1000)
    assert pricing.rates_for(0, 0, Tariff(0.001, 100.0, 0.25, 300)) == Rates(300, 300)


def test_a_paid_model_never_costs_less_than_a_free_one():
    # $0.0000001 per token → cost rate 10 → 12.5 → 13, lifted to the free rate.
    assert pricing.rates_for(0.0000001, 0.00002, T) == Rates(1000, 2500)


def test_the_floor_holds_even_with_a_negative_margin():
    discount = Tariff(0.001, 100.0, -0.5, 0)
    # Half price would be 1,000; the floor keeps it at the provider's cost, 2,000.
    assert pricing.rate_for(0.00002, discount) == 2000
    for price in (1e-7, 3.3e-6, 0.00001, 0.000075):
        assert pricing.rate_for(price, discount) >= pricing.cost_rate(price, discount)


@pytest.mark.parametrize(
    "prompt, completion, problem",
    [
        (-1.0, 0.0, "prompt price is negative"),
        (0.0, -1e-6, "completion price is negative"),
        (math.nan, 0.0, "prompt price is not finite"),
        (0.0, math.inf, "completion price is not finite"),
        ("0.001", 0.0, "prompt price is not a number"),
        (None, 0.0, "prompt price is not a number"),
        (True, 0.0, "prompt price is not a number"),
        (0.02, 0.0, "prompt price is absurd"),
    ],
)
def test_bad_prices_are_refused(prompt, completion, problem):
    assert problem in pricing.price_problem(prompt, completion)
    with pytest.raises(ValueError, match=problem.split(" (")[0]):
        pricing.rates_for(prompt, completion, T)


def test_good_prices_have_no_problem():
    assert pricing.price_problem(0, 0) is None
    assert pricing.price_problem(0.0000025, 0.00001) is None
    assert pricing.price_problem(pricing.MAX_PRICE_PER_TOKEN, 0) is None


def test_hold_is_prompt_estimate_plus_max_tokens_at_the_rates_rounded_up():
    rates = Rates(2500, 5000)
    # 120 × 2,500 + 512 × 5,000 = 2,860,000 → 2,860 tokens.
    assert pricing.hold_for(120, 512, rates) == 2860
    # 1 × 2,500 + 1 × 5,000 = 7,500 → 7.5 → 8.
    assert pricing.hold_for(1, 1, rates) == 8
    assert pricing.hold_for(0, 0, rates) == 0


def test_charge_is_the_providers_usage_at_the_rates():
    rates = Rates(1000, 2125)
    c = pricing.charge_for(rates, 10_000, usage=(11, 12), prompt_estimate=50, completion_estimate=9)
    assert c == pricing.Charge(11, 12, False, math.ceil((11 * 1000 + 12 * 2125) / 1000))


def test_without_a_usage_report_the_estimate_is_charged_and_flagged():
    rates = Rates(1000, 2125)
    c = pricing.charge_for(rates, 10_000, usage=None, prompt_estimate=50, completion_estimate=9)
    assert c == pricing.Charge(50, 9, True, math.ceil((50 * 1000 + 9 * 2125) / 1000))


def test_cancelled_before_anything_was_generated_is_charged_nothing():
    c = pricing.charge_for(Rates(1000, 1000), 500, None, 50, 0, generated=False)
    assert c == pricing.Charge(0, 0, False, 0)


def test_a_cancelled_answer_pays_the_whole_prompt_and_the_completion_so_far():
    rates = Rates(1500, 6000)
    c = pricing.charge_for(rates, 100_000, None, prompt_estimate=40, completion_estimate=7)
    assert (c.prompt_tokens, c.completion_tokens, c.estimated) == (40, 7, True)
    assert c.tokens == pricing.tokens_for(40, 0, rates) + pricing.tokens_for(0, 7, rates)
    # A provider report (some send one after the client stops reading) wins over the estimate.
    reported = pricing.charge_for(rates, 100_000, (38, 9), 40, 7)
    assert (reported.prompt_tokens, reported.completion_tokens, reported.estimated) == (38, 9, 0)


def test_the_charge_never_exceeds_the_hold():
    rates = Rates(1000, 2000)
    hold = pricing.hold_for(10, 100, rates)  # 210
    # The provider counted a longer prompt than our estimate and used every completion token.
    c = pricing.charge_for(rates, hold, usage=(400, 100), prompt_estimate=10, completion_estimate=0)
    assert c.tokens == hold == 210
    over = pricing.charge_for(rates, hold, None, prompt_estimate=10, completion_estimate=10_000)
    assert over.tokens == hold


def test_likely_and_typical_costs():
    rates = Rates(1000, 3000)
    assert pricing.typical_cost(rates) == (500 * 1000 + 500 * 3000) // 1000 == 2000
    assert pricing.likely_for(100, 2000, rates) == (100 * 1000 + 500 * 3000) // 1000
    assert pricing.likely_for(100, 200, rates) == (100 * 1000 + 200 * 3000) // 1000
    assert pricing.answers_for(50_000, rates) == 25


def test_receipt_shape():
    charge = pricing.Charge(11, 12, False, 23)
    r = pricing.receipt(charge, Rates(1000, 1000), 0.0004, from_free=20, from_purchased=3)
    assert r == {
        "promptTokens": 11,
        "completionTokens": 12,
        "estimated": False,
        "rates": {"prompt": 1000, "completion": 1000},
        "charged": 23,
        "fromFree": 20,
        "fromPurchased": 3,
        "providerCost": 0.0004,
    }
    assert "providerCost" not in pricing.receipt(charge, Rates(1, 1), None)


def test_each_default_plan_covers_its_provider_cost_on_every_model_it_unlocks():
    """With the default settings, spending a plan's tokens (and the sign-up grant) entirely on
    any model it unlocks never costs the providers more than the plan's price."""
    settings = Settings()
    tariff = Tariff.from_settings(settings)
    catalog = [
        (float(m["pricing"]["prompt"]), float(m["pricing"]["completion"])) for m in default_models()
    ]
    for plan in DEFAULT_PLANS:
        unlocked = [p for p in catalog if plan.get("unlocksPaidModels") or pricing.is_free(*p)]
        revenue_inr = plan["price"] / 100
        spendable = plan["tokens"] + settings.free_tokens
        for prompt_price, completion_price in unlocked:
            rates = pricing.rates_for(prompt_price, completion_price, tariff)
            for side_price, rate in (
                (prompt_price, rates.prompt),
                (completion_price, rates.completion),
            ):
                # Provider rupees per wallet token spent on this side of this model.
                inr_per_token = side_price * pricing.PER / rate * settings.usd_inr
                assert spendable * inr_per_token <= revenue_inr, (plan["id"], side_price)


def test_the_token_value_is_at_most_what_any_paid_plan_sells_a_token_for():
    settings = Settings()
    for plan in DEFAULT_PLANS:
        if plan.get("unlocksPaidModels"):
            assert settings.token_value_inr <= plan["price"] / 100 / plan["tokens"], plan["id"]


def test_a_message_held_before_rates_were_stored_is_charged_at_the_old_flat_rate():
    assert pricing.stored_rates(None) == pricing.LEGACY_RATES == Rates(1000, 1000)
    assert pricing.stored_rates({"prompt": 1000, "completion": 2125}) == Rates(1000, 2125)
