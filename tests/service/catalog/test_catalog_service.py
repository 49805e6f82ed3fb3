"""The catalog service against the fake OpenRouter, nx-27017 and the test Redis database."""

from __future__ import annotations

import threading

import pytest

from common import stored
from common.catalog import service as catalog
from common.catalog.models import AIModel
from common.errors import NotFound, ValidationError
from common.providers.base import ModelInfo
from common.redis_client import get_redis
from common.wallet import pricing
from tests.fakes.catalog_data import default_models, model_entry

PREFERRED = list(catalog.PREFERRED_MODELS)


def _ids(models: list[dict]) -> list[str]:
    return [m["modelId"] for m in models]


def _all(**filters) -> list[dict]:
    models, total = catalog.list_models(limit=500, **filters)
    assert total == len(models)
    return models


def test_default_order_preferred_then_free_by_name_then_paid_by_price(openrouter):
    models = _all()
    assert len(models) == 31
    assert _ids(models)[:4] == PREFERRED
    free_flags = [m["isFree"] for m in models]
    first_paid = free_flags.index(False)
    assert all(free_flags[:first_paid]) and not any(free_flags[first_paid:])
    other_free = [m["name"].lower() for m in models[4:first_paid]]
    assert other_free == sorted(other_free)
    paid_prices = [m["pricing"]["input"] for m in models[first_paid:]]
    assert paid_prices == sorted(paid_prices) and paid_prices[0] > 0


def test_model_view_has_the_documented_shape_and_per_1k_prices(openrouter, settings):
    gpt = next(m for m in _all() if m["modelId"] == "openai/gpt-4o")
    rates = pricing.rates_for(0.0000025, 0.00001, pricing.Tariff.from_settings(settings))
    assert gpt == {
        "modelId": "openai/gpt-4o",
        "name": "OpenAI: GPT-4o",
        "provider": "openrouter",
        "description": "OpenAI: GPT-4o. A fake catalog entry for local tests.",
        "pricing": {"input": 0.0025, "output": 0.01},
        "rates": {"prompt": rates.prompt, "completion": rates.completion},
        "typicalCost": pricing.typical_cost(rates),
        "contextWindow": 128000,
        "capabilities": {"tools": True, "jsonObject": True, "jsonSchema": True, "images": True},
        "inputModalities": ["text", "image"],
        "tags": ["text", "image"],
        "isFree": False,
        "isAvailable": True,
        "addedAt": stored.iso(AIModel.objects.get(modelId="openai/gpt-4o").createdAt),
        "weights": None,  # OpenRouter lists no Hugging Face repo for it
    }
    doc = AIModel.objects.get(modelId="openai/gpt-4o")
    assert (doc.pricing.prompt, doc.pricing.completion) == (0.0000025, 0.00001)
    assert doc.providerModelId == "openai/gpt-4o" and doc.sortRank == catalog.RANK_PAID
    assert doc.lastChecked is not None


def test_routes_of_one_model_name_the_same_weights(openrouter):
    """OpenRouter's `hugging_face_id`, lower case: what the client groups routes by."""
    models = {m["modelId"]: m for m in _all()}
    free = models["meta-llama/llama-3.1-405b-instruct:free"]
    paid = models["meta-llama/llama-3.1-405b-instruct"]
    assert free["weights"] == paid["weights"] == "meta-llama/llama-3.1-405b-instruct"
    assert models["meta-llama/llama-3.1-70b-instruct"]["weights"] != paid["weights"]
    assert models["openai/gpt-4o"]["weights"] is None


def test_capabilities_come_from_the_listing_and_default_to_none(openrouter):
    models = {m["modelId"]: m for m in _all()}
    plain = models["mistralai/mistral-7b-instruct:free"]
    assert plain["capabilities"] == {
        "tools": False,
        "jsonObject": False,
        "jsonSchema": False,
        "images": False,
    }
    assert models["fake/echo"]["capabilities"]["tools"] is True
    assert models["google/gemini-2.0-flash-exp:free"]["capabilities"]["images"] is True
    doc = AIModel.objects.get(modelId="meta-llama/llama-3.1-70b-instruct")
    assert doc.hfId == "meta-llama/llama-3.1-70b-instruct"


def test_other_sorts(openrouter):
    names = [m["name"].lower() for m in _all(sort="name")]
    assert names == sorted(names)
    prices = [m["pricing"]["input"] for m in _all(sort="price")]
    assert prices == sorted(prices)
    contexts = [m["contextWindow"] for m in _all(sort="context")]
    assert contexts == sorted(contexts, reverse=True) and contexts[0] == 2_000_000
    with pytest.raises(ValidationError):
        catalog.list_models(sort="random")


def test_search_matches_id_name_and_description_case_insensitively(openrouter):
    assert _ids(_all(search="CLAUDE")) == [
        "anthropic/claude-3-haiku",
        "anthropic/claude-3.5-sonnet",
        "anthropic/claude-3-opus",
    ]
    assert _ids(_all(search="deepcoder")) == ["agentica/deepcoder:free"]  # by id
    assert _ids(_all(search="Grok 2")) == ["x-ai/grok-2-1212"]  # by name
    assert _all(search="nothing-like-this") == []


def test_search_by_description(openrouter):
    entry = model_entry("vendor/special", "Special")
    entry["description"] = "Excels at Esperanto poetry"
    openrouter.set_models([*default_models(), entry])
    assert _ids(_all(search="esperanto")) == ["vendor/special"]


def test_free_and_provider_filters(openrouter):
    free = _all(free=True)
    paid = _all(free=False)
    assert len(free) + len(paid) == 31 and all(m["isFree"] for m in free)
    assert not any(m["isFree"] for m in paid)
    assert len(_all(provider="openrouter")) == 31 and _all(provider="huggingface") == []


def test_pagination(openrouter):
    everything = _ids(_all())
    page, total = catalog.list_models(limit=10, offset=0)
    assert total == 31 and _ids(page) == everything[:10]
    page, total = catalog.list_models(limit=10, offset=30)
    assert total == 31 and _ids(page) == everything[30:]
    page, total = catalog.list_models(limit=10, offset=100)
    assert (page, total) == ([], 31)
    page, total = catalog.list_models(free=True, limit=2, offset=2)
    assert _ids(page) == PREFERRED[2:4] and total == 14


def test_second_read_within_the_ttl_does_not_reach_the_provider(openrouter):
    _all()
    _all(search="gpt")
    catalog.default_model()
    catalog.get_model_view("openai/gpt-4o")
    assert openrouter.stats()["models_calls"] == 1
    ttl = get_redis().ttl(catalog.CACHE_KEY)
    assert 800 < ttl <= 900  # MODEL_CACHE_SECONDS
    catalog.invalidate_cache()  # as if the TTL had passed
    _all()
    assert openrouter.stats()["models_calls"] == 2


def test_concurrent_first_reads_fetch_once(openrouter):
    results: list[int] = []

    def read():
        results.append(len(catalog.catalog()))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [31] * 8
    assert openrouter.stats()["models_calls"] == 1


def test_outage_serves_the_last_good_catalog_briefly(openrouter):
    assert len(_all()) == 31
    catalog.invalidate_cache()
    openrouter.scenario("*", models_status=503)
    models = _all()
    assert len(models) == 31 and _ids(models)[:4] == PREFERRED
    assert openrouter.stats()["models_calls"] == 2
    assert 0 < get_redis().ttl(catalog.CACHE_KEY) <= catalog.STALE_SECONDS
    assert AIModel.objects(isAvailable=False).count() == 0


def test_outage_with_nothing_stored_serves_the_builtin_free_models(openrouter):
    openrouter.scenario("*", models_status=500)
    models = _all()
    assert _ids(models) == [m.model_id for m in catalog.FALLBACK_MODELS]
    assert all(m["isFree"] and m["isAvailable"] for m in models)
    assert catalog.get_model("deepseek/deepseek-r1:free").provider == "openrouter"
    assert catalog.default_model()["modelId"] == PREFERRED[0]


def test_unreachable_provider_also_falls_back(fake_openrouter, settings_override):
    from tests.support.services import free_port

    settings_override(
        openrouter_base_url=f"http://127.0.0.1:{free_port()}/api/v1", provider_connect_timeout=2.0
    )
    result = catalog.refresh_catalog()
    assert result.failed == {"openrouter": "model_unavailable"} and result.used_fallback
    assert len(result.models) == len(catalog.FALLBACK_MODELS)


def test_models_that_disappear_become_unavailable(openrouter):
    _all()
    openrouter.set_models([m for m in default_models() if m["id"] != "openai/gpt-4o"])
    result = catalog.refresh_catalog()
    assert result.synced["openrouter"] == 30 and len(result.models) == 30
    assert "openai/gpt-4o" not in _ids(_all())
    gone = catalog.get_model("openai/gpt-4o")
    assert gone.isAvailable is False
    assert catalog.get_model_view("openai/gpt-4o")["isAvailable"] is False
    openrouter.reset()
    catalog.refresh_catalog()
    assert catalog.get_model("openai/gpt-4o").isAvailable is True


def test_get_model_fills_an_empty_catalog_and_rejects_unknown_ids(openrouter):
    doc = catalog.get_model("fake/echo")
    assert doc.providerModelId == "fake/echo" and doc.isFree
    with pytest.raises(NotFound, match="Unknown model 'nope/none'"):
        catalog.get_model("nope/none")
    for bad in ("", "   ", "x" * 301, None, {"$ne": None}):
        with pytest.raises(ValidationError):
            catalog.get_model(bad)
    with pytest.raises(NotFound):
        catalog.get_model_view("nope/none")
    assert openrouter.stats()["models_calls"] == 1


def test_default_model_prefers_the_guides_order_then_any_free(openrouter):
    assert catalog.default_model()["modelId"] == PREFERRED[0]
    rest = [m for m in default_models() if m["id"] not in PREFERRED[:2]]
    openrouter.set_models(rest)
    catalog.refresh_catalog()
    assert catalog.default_model()["modelId"] == PREFERRED[2]
    openrouter.set_models([model_entry("z/paid", prompt="0.001"), model_entry("y/free")])
    catalog.refresh_catalog()
    assert catalog.default_model()["modelId"] == "y/free"


def test_upsert_is_idempotent_and_prefixes_other_providers(openrouter):
    models = [
        ModelInfo("meta-llama/Llama-3.1-8B-Instruct", "Llama 8B", "huggingface", prompt_price=1e-7),
        ModelInfo("llama3.1", "Llama 3.1 local", "openai"),
    ]
    assert catalog.upsert_models(models) == 2
    first = AIModel.objects.get(modelId="hf:meta-llama/Llama-3.1-8B-Instruct")
    catalog.upsert_models(models)
    again = AIModel.objects.get(modelId="hf:meta-llama/Llama-3.1-8B-Instruct")
    assert AIModel.objects.count() == 2 and again.createdAt == first.createdAt
    assert again.providerModelId == "meta-llama/Llama-3.1-8B-Instruct" and not again.isFree
    assert again.pricing.input == pytest.approx(0.0001)
    local = catalog.get_model("local:llama3.1")
    assert (local.provider, local.providerModelId, local.isFree) == ("openai", "llama3.1", True)


def test_sync_of_an_openai_compatible_server(openrouter, settings_override):
    settings_override(
        openrouter_base_url=openrouter.base_url,
        openai_compat_base_url=openrouter.root + "/v1",
    )
    openrouter.set_models([{"id": "qwen2.5-coder:7b", "object": "model", "owned_by": "library"}])
    assert catalog.sync_provider("openai") == 1
    doc = catalog.get_model("local:qwen2.5-coder:7b")
    assert doc.provider == "openai" and "code" in doc.capabilities and doc.contextWindow == 4096


def test_refresh_task_and_beat_entry(openrouter):
    from worker.tasks import catalog as catalog_tasks

    assert catalog_tasks.refresh.run()["models"] == 31
    entry = catalog_tasks.BEAT_SCHEDULE["catalog-refresh"]
    assert entry == {"task": "catalog.refresh", "schedule": 900.0}
    assert get_redis().exists(catalog.CACHE_KEY)


def test_models_with_bad_prices_are_not_offered(openrouter):
    bad = {
        "bad/negative": ("-0.000001", "0"),
        "openrouter/auto": ("-1", "-1"),  # OpenRouter's placeholder for variable pricing
        "bad/text": ("0", "call us"),
        "bad/nan": ("NaN", "0"),
        "bad/inf": ("0", "Infinity"),
        "bad/absurd": ("1000000", "0"),
    }
    entries = [model_entry(i, prompt=p, completion=c) for i, (p, c) in bad.items()]
    openrouter.set_models([*entries, model_entry("ok/paid", prompt="0.000001")])
    catalog.refresh_catalog()
    assert _ids(_all()) == ["ok/paid"]
    assert AIModel.objects(modelId__in=list(bad)).count() == 0
    for model_id in bad:
        with pytest.raises(NotFound):
            catalog.get_model(model_id)


def test_a_stored_model_whose_price_turns_bad_stops_being_offered(openrouter):
    assert "openai/gpt-4o" in _ids(_all())
    models = default_models()
    next(m for m in models if m["id"] == "openai/gpt-4o")["pricing"]["prompt"] = "-1000000"
    openrouter.set_models(models)
    catalog.refresh_catalog()
    assert "openai/gpt-4o" not in _ids(_all())
    assert catalog.get_model("openai/gpt-4o").isAvailable is False
    assert catalog.get_model("openai/gpt-4o").pricing.prompt == 0.0000025  # the last good price


def test_free_means_both_prices_zero(openrouter):
    openrouter.set_models(
        [
            model_entry("a/named-free:free", prompt="0", completion="0.000002"),
            model_entry("b/zero", prompt="0", completion="0"),
        ]
    )
    catalog.refresh_catalog()
    by_id = {m["modelId"]: m for m in _all()}
    assert by_id["a/named-free:free"]["isFree"] is False
    assert by_id["b/zero"]["isFree"] is True
    free_rate = catalog.rates_of(catalog.get_model("b/zero"))
    assert by_id["b/zero"]["rates"] == free_rate.as_dict() == {"prompt": 1000, "completion": 1000}


def test_an_openai_compatible_server_is_sold_at_its_configured_price(openrouter, settings_override):
    settings_override(
        openrouter_base_url=openrouter.base_url,
        openai_compat_base_url=openrouter.root + "/v1",
        openai_compat_prompt_price=0.5,  # USD per million tokens
        openai_compat_completion_price=1.5,
    )
    openrouter.set_models([{"id": "llama3.1", "object": "model"}])
    catalog.sync_provider("openai")
    local = catalog.get_model("local:llama3.1")
    assert (local.pricing.prompt, local.pricing.completion) == (0.5e-6, 1.5e-6)
    assert not local.isFree
