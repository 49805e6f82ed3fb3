"""Fallback through `/v1` against the real stack: OpenRouter (a fake) fails before the first
token and a second provider — another fake playing Hugging Face's router, serving the same
weights — answers within the one hold, charged at its own rates; a request's own `models` list
falls back the same way, streamed. The worker's metrics count the fallbacks by provider."""

from __future__ import annotations

import openai
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from common.catalog import service as catalog
from common.conversations.models import ChatMessage
from common.users.models import User
from common.wallet import pricing
from common.wallet.models import LedgerEntry
from common.wallet.reconcile import reconcile
from tests.fakes.catalog_data import default_models, hf_entry, model_entry
from tests.fakes.openrouter import FakeOpenRouter
from tests.support.chatkit import PAID, tokens_of
from tests.support.fixtures import ready
from tests.support.services import free_port, wait_for
from tests.support.stack import Stack

LLAMA = "meta-llama/llama-3.1-70b-instruct"
HF_LLAMA = "meta-llama/Llama-3.1-70B-Instruct"
OPUS = "anthropic/claude-3-opus"
USAGE = {"prompt_tokens": 20, "completion_tokens": 40, "total_tokens": 60}


@pytest.fixture(scope="module")
def hf_fake():
    with FakeOpenRouter() as server:
        yield server


@pytest.fixture(scope="module")
def stack_settings(base_settings, fake, hf_fake):
    return base_settings.with_overrides(
        openrouter_base_url=fake.base_url,
        huggingface_base_url=hf_fake.base_url,
        huggingface_api_key="hf-test",
    )


@pytest.fixture(scope="module")
def metrics_port():
    return free_port()


@pytest.fixture(scope="module")
def stack(stack_settings, metrics_port):
    running = Stack(stack_settings, name="test_fallback_api", workers=0)
    running.start_worker(env={"WORKER_METRICS_PORT": str(metrics_port)})
    try:
        yield running.start()
    finally:
        running.stop()


@pytest.fixture
def live(stack, fake, hf_fake):
    """The catalog from both fakes: OpenRouter lists the Llama dearer than Hugging Face."""
    ready(stack.settings, fake)
    hf_fake.reset()
    fake.set_models(
        [m for m in default_models() if m["id"] != LLAMA]
        + [
            model_entry(
                LLAMA,
                prompt="0.00001",
                completion="0.00003",
                structured=True,
                hugging_face_id=HF_LLAMA,
                context_length=131072,
            )
        ]
    )
    hf_fake.set_models([hf_entry(HF_LLAMA, 8.0, 24.0)])
    catalog.invalidate_cache()
    catalog.sync_provider("openrouter")
    catalog.sync_provider("huggingface")
    return stack


@pytest.fixture
def pro(user):
    User.objects(id=user[0]["id"]).update_one(set__subscription__plan="pro")
    return user[0]["id"]


def _rates(model_id: str) -> pricing.Rates:
    return catalog.rates_of(catalog.get_model(model_id))


def _settled(mid: str) -> ChatMessage:
    msg = ChatMessage.objects(id=mid).first()
    entry = LedgerEntry._get_collection().find_one({"key": mid})
    assert entry["amount"] == -msg.charged == -msg.receipt["charged"]
    assert entry["details"]["modelId"] == msg.modelId
    assert entry["details"]["rates"] == msg.receipt["rates"] == msg.rates
    return msg


def test_the_same_model_through_another_provider_answers_at_its_rates(
    live, fake, hf_fake, sdk, pro, metrics_port
):
    fake.scenario(LLAMA, status=503)
    hf_fake.scenario(HF_LLAMA, deltas=["from", " hugging", " face"], usage=USAGE)
    before = tokens_of(pro)["balance"]
    answer = sdk().chat.completions.create(
        model=LLAMA, messages=[{"role": "user", "content": "hello"}], max_tokens=100
    )
    assert answer.model == f"hf:{HF_LLAMA}"
    assert answer.choices[0].message.content == "from hugging face"
    msg = _settled(answer.id.removeprefix("chatcmpl-"))
    hf_rates = _rates(f"hf:{HF_LLAMA}")
    assert hf_rates != _rates(LLAMA)
    assert msg.requestedModelId == LLAMA and msg.rates == hf_rates.as_dict()
    assert msg.charged == pricing.tokens_for(20, 40, hf_rates) == answer.charged
    assert tokens_of(pro)["balance"] == before - msg.charged
    assert (fake.stats()["chat_calls"], hf_fake.stats()["chat_calls"]) == (1, 1)
    wait_for(
        lambda: _fallbacks(metrics_port, "openrouter", "huggingface") >= 1, 10, 0.2, "the metric"
    )
    assert reconcile() == []


def test_a_requests_own_models_list_falls_back_streamed(live, fake, sdk, pro):
    fake.scenario(PAID, status=429)
    fake.scenario(OPUS, deltas=["opus", " here"], usage=USAGE)
    chunks = list(
        sdk().chat.completions.create(
            model=PAID,
            messages=[{"role": "user", "content": "hello"}],
            max_tokens=100,
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"models": [PAID, OPUS]},
        )
    )
    assert {c.model for c in chunks} == {OPUS}
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "opus here"
    msg = _settled(chunks[0].id.removeprefix("chatcmpl-"))
    assert msg.modelId == OPUS and msg.charged == pricing.tokens_for(20, 40, _rates(OPUS))
    assert fake.stats()["chat_by_model"] == {PAID: 1, OPUS: 1}
    assert reconcile() == []


def test_a_named_fallback_the_plan_does_not_allow_is_refused_before_anything_is_held(
    live, fake, sdk, user
):
    with pytest.raises(openai.PermissionDeniedError) as err:
        sdk().chat.completions.create(
            model="fake/echo",
            messages=[{"role": "user", "content": "hello"}],
            extra_body={"models": ["fake/echo", PAID]},
        )
    assert err.value.status_code == 403 and err.value.code == "paywall"
    assert tokens_of(user[0]["id"])["reserved"] == 0 and fake.stats()["chat_calls"] == 0


def _fallbacks(port: int, failed: str, to: str) -> float:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "aipasta_provider_fallbacks_total" and sample.labels == {
                "provider": failed,
                "to": to,
            }:
                return sample.value
    return 0.0


def test_a_legacy_completion_falls_back_as_a_chat_completion_does(live, fake, hf_fake, sdk, pro):
    """`/v1/completions` goes through the same send path: a request's own `models` (streamed)
    and the same model through another provider (not streamed), each charged at its rates."""
    fake.scenario(PAID, status=429)
    fake.scenario(OPUS, deltas=["opus", " here"], usage=USAGE)
    chunks = list(
        sdk().completions.create(
            model=PAID,
            prompt="hello",
            max_tokens=100,
            stream=True,
            extra_body={"models": [OPUS]},
        )
    )
    assert {c.model for c in chunks} == {OPUS}
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "opus here"
    msg = _settled(chunks[0].id.removeprefix("cmpl-"))
    assert msg.modelId == OPUS and msg.requestedModelId == PAID
    fake.scenario(LLAMA, status=503)
    hf_fake.scenario(HF_LLAMA, deltas=["from", " hugging", " face"], usage=USAGE)
    answer = sdk().completions.create(model=LLAMA, prompt="hello", max_tokens=100)
    assert answer.model == f"hf:{HF_LLAMA}" and answer.choices[0].text == "from hugging face"
    msg = _settled(answer.id.removeprefix("cmpl-"))
    assert msg.charged == pricing.tokens_for(20, 40, _rates(f"hf:{HF_LLAMA}")) == answer.charged
    assert reconcile() == []


def test_an_unknown_fallback_is_404_naming_it(live, fake, sdk, pro):
    for create, ask in (
        (sdk().chat.completions.create, {"messages": [{"role": "user", "content": "hi"}]}),
        (sdk().completions.create, {"prompt": "hi"}),
    ):
        with pytest.raises(openai.NotFoundError) as err:
            create(model=OPUS, extra_body={"models": [OPUS, "nobody/nothing"]}, **ask)
        assert err.value.code == "model_not_found" and err.value.param == "models.1"
    assert tokens_of(pro)["reserved"] == 0 and fake.stats()["chat_calls"] == 0
