"""`/api/models` over the Flask test client, the fake OpenRouter over HTTP, and a second process
reading the same Redis copy of the catalog."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from bson import ObjectId

from common.catalog import service as catalog
from common.conversations.models import ChatMessage
from common.wallet import pricing
from tests.fakes.catalog_data import model_entry
from tests.support.http import auth
from tests.support.services import ROOT


@pytest.fixture
def token(fake_openrouter, settings_override, make_user):
    settings_override(openrouter_base_url=fake_openrouter.base_url, provider_connect_timeout=2.0)
    return make_user()[1]


def _get(client, url: str, token: str, status: int = 200) -> dict:
    res = client.get(url, headers=auth(token))
    assert res.status_code == status, res.get_json()
    return res.get_json()


def test_all_routes_need_a_token(client):
    for url in ("/api/models", "/api/models/default", "/api/models/openai/gpt-4o"):
        res = client.get(url)
        assert res.status_code == 401
        assert res.get_json()["code"] == "UNAUTHORIZED"


def test_list_shape_defaults_and_order(client, token, fake_openrouter):
    body = _get(client, "/api/models", token)
    assert body["status"] == "success"
    data = body["data"]
    assert (data["total"], data["limit"], data["offset"]) == (31, 100, 0)
    ids = [m["modelId"] for m in data["models"]]
    assert ids[:4] == list(catalog.PREFERRED_MODELS)
    assert set(data["models"][0]) == {
        "modelId", "name", "provider", "description", "pricing", "rates", "typicalCost",
        "contextWindow", "capabilities", "inputModalities", "tags", "isFree", "isAvailable",
        "addedAt", "weights",
    }  # fmt: skip
    _get(client, "/api/models?sort=price", token)
    assert fake_openrouter.stats()["models_calls"] == 1  # the second call hit the cache


def test_models_carry_their_rates_and_the_cost_of_a_typical_answer(client, token, settings):
    tariff = pricing.Tariff.from_settings(settings)
    by_id = {m["modelId"]: m for m in _get(client, "/api/models", token)["data"]["models"]}
    for model_id, (prompt, completion) in {
        "openai/gpt-4o": (0.0000025, 0.00001),
        "anthropic/claude-3-opus": (0.000015, 0.000075),
        "deepseek/deepseek-r1:free": (0, 0),
    }.items():
        rates = pricing.rates_for(prompt, completion, tariff)
        assert by_id[model_id]["rates"] == rates.as_dict()
        assert by_id[model_id]["typicalCost"] == pricing.typical_cost(rates)
    assert by_id["deepseek/deepseek-r1:free"]["rates"] == {
        "prompt": settings.free_model_rate,
        "completion": settings.free_model_rate,
    }
    opus, gpt = by_id["anthropic/claude-3-opus"], by_id["openai/gpt-4o"]
    assert opus["typicalCost"] > gpt["typicalCost"] > by_id["fake/echo"]["typicalCost"]


def test_filters_search_sort_and_pages(client, token):
    data = _get(client, "/api/models?free=true&limit=3&offset=1", token)["data"]
    assert [m["modelId"] for m in data["models"]] == list(catalog.PREFERRED_MODELS[1:4])
    assert data["total"] == 14 and (data["limit"], data["offset"]) == (3, 1)
    data = _get(client, "/api/models?search=claude&sort=price", token)["data"]
    assert [m["modelId"] for m in data["models"]][0] == "anthropic/claude-3-haiku"
    data = _get(client, "/api/models?provider=openrouter&free=false&sort=context&limit=1", token)
    assert data["data"]["models"][0]["modelId"] == "google/gemini-pro-1.5"
    assert _get(client, "/api/models?provider=huggingface", token)["data"]["total"] == 0


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=501", "limit=abc", "offset=-1", "sort=random", "provider=acme",
     "free=maybe", "search=" + "x" * 201],
)  # fmt: skip
def test_bad_query_values_are_400(client, token, query):
    body = _get(client, f"/api/models?{query}", token, 400)
    assert body["status"] == "error" and body["code"] == "VALIDATION_ERROR"
    assert body["details"]["errors"]


def test_one_model_by_id_with_slashes_and_colons(client, token):
    model = _get(client, "/api/models/deepseek/deepseek-r1:free", token)["data"]["model"]
    assert model["modelId"] == "deepseek/deepseek-r1:free" and model["isFree"] is True
    encoded = _get(client, "/api/models/deepseek%2Fdeepseek-r1%3Afree", token)["data"]["model"]
    assert encoded == model
    body = _get(client, "/api/models/nope/none:free", token, 404)
    assert body["code"] == "NOT_FOUND" and "nope/none:free" in body["message"]


def test_default_is_not_shadowed_by_the_id_route(client, token, fake_openrouter):
    model = _get(client, "/api/models/default", token)["data"]["model"]
    assert model["modelId"] == "meta-llama/llama-3.1-405b-instruct:free"
    # a model literally called "default/..." still resolves through the path route
    fake_openrouter.set_models([model_entry("default/model"), model_entry("y/free")])
    catalog.refresh_catalog()
    assert _get(client, "/api/models/default/model", token)["data"]["model"]["modelId"] == (
        "default/model"
    )


def test_seed_models_command(app, fake_openrouter, settings_override):
    settings_override(openrouter_base_url=fake_openrouter.base_url)
    result = app.test_cli_runner().invoke(args=["seed-models"])
    assert result.exit_code == 0, result.output
    assert "openrouter: 31 models" in result.output and "31 models available." in result.output
    fake_openrouter.scenario("*", models_status=503)
    result = app.test_cli_runner().invoke(args=["seed-models"])
    assert "openrouter: not reachable" in result.output and "31 models available." in result.output


def test_another_process_reads_the_shared_copy(fake_openrouter, settings_override):
    """A second process (another web worker) gets the catalog from Redis, not the provider."""
    settings = settings_override(openrouter_base_url=fake_openrouter.base_url)
    assert len(catalog.catalog()) == 31
    assert fake_openrouter.stats()["models_calls"] == 1
    env = {
        **os.environ,
        "APP_ENV": "test",
        "MONGODB_URI": settings.mongodb_uri,
        "REDIS_URL": settings.redis_url,
        "OPENROUTER_BASE_URL": fake_openrouter.base_url,
    }
    script = (
        "import json; from common import db; from common.catalog import service as s; "
        "db.connect(); print(json.dumps([m['modelId'] for m in s.catalog()]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr.decode()
    ids = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    assert ids == [m["modelId"] for m in catalog.catalog()]
    assert fake_openrouter.stats()["models_calls"] == 1


def test_speeds_are_everyones_recent_means_per_model_and_name_no_user(client, token, make_user):
    assert client.get("/api/models/speeds").status_code == 401
    owner = ObjectId(make_user()[0]["id"])
    for ttft, tps in ((200.0, 40.0), (400.0, 60.0)):
        ChatMessage(
            sessionId="s",
            userId=owner,
            role="assistant",
            modelId="fake/echo",
            status="done",
            ttftMs=ttft,
            tokensPerSecond=tps,
        ).save()
    body = _get(client, "/api/models/speeds", token)["data"]
    assert body["days"] == 7
    assert body["speeds"] == {"fake/echo": {"ttftMs": 300.0, "tokensPerSecond": 50.0, "answers": 2}}
    assert str(owner) not in json.dumps(body)
