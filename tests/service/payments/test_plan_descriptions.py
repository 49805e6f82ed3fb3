"""Plans say what their tokens buy, at the rates the catalog's models are sold at."""

from __future__ import annotations

import pytest

from common.catalog import service as catalog
from common.payments import plans
from common.providers.base import ModelInfo
from common.wallet import pricing

GPT = ModelInfo("openai/gpt-4o", "OpenAI: GPT-4o", "openrouter", prompt_price=2.5e-6,
                completion_price=1e-5)  # fmt: skip


@pytest.fixture
def listed(client, settings):
    plans.seed_defaults()
    catalog.upsert_models([GPT])

    def get() -> dict:
        res = client.get("/api/plans")
        assert res.status_code == 200
        return {p["id"]: p for p in res.get_json()["data"]["plans"]}

    return get


def test_each_plan_says_how_many_typical_answers_its_tokens_buy(listed, settings):
    tariff = pricing.Tariff.from_settings(settings)
    free, gpt = pricing.rates_for(0, 0, tariff), pricing.rates_for(2.5e-6, 1e-5, tariff)
    by_id = listed()
    pack, pro = by_id["tokens-50k"], by_id["pro-monthly"]
    # A pack does not unlock paid models: it names only what it buys on a free model.
    assert pack["buys"] == [
        {"modelId": None, "name": "a free model", "answers": 50_000 // pricing.typical_cost(free)}
    ]
    assert pro["buys"] == [
        {"modelId": None, "name": "a free model", "answers": 500_000 // pricing.typical_cost(free)},
        {
            "modelId": "openai/gpt-4o",
            "name": "OpenAI: GPT-4o",
            "answers": 500_000 // pricing.typical_cost(gpt),
        },
    ]
    n = 500_000 // pricing.typical_cost(gpt)
    assert f"≈ {n:,} answers on OpenAI: GPT-4o" in pro["description"]
    assert pro["description"].startswith("30 days of Pro")
    assert "a typical answer: 500 tokens in, 500 out" in pro["description"]


def test_the_answers_follow_the_pricing_settings(listed, settings_override):
    settings_override(free_model_rate=500)
    assert listed()["tokens-50k"]["buys"][0]["answers"] == 50_000 // 500
    settings_override(free_model_rate=2000)
    assert listed()["tokens-50k"]["buys"][0]["answers"] == 50_000 // 2000
