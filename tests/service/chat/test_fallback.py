"""Fallback within one hold, in this process: `send` with an API request's fallbacks, then the
worker's `complete`, against two fakes over real HTTP — OpenRouter, and a second one playing
Hugging Face's router (the same weights through another provider)."""

from __future__ import annotations

import pytest

from common import metrics
from common.apikeys.errors import ModelNotFound
from common.catalog.service import invalidate_cache, sync_provider
from common.conversations.models import ChatMessage
from common.engine.completion import complete
from common.errors import UnsupportedParameter
from common.sending.command import Needs, SendOptions
from common.wallet import pricing
from common.wallet import service as wallet
from common.wallet.reconcile import reconcile
from config import get_settings
from tests.fakes.catalog_data import default_models, hf_entry, model_entry
from tests.fakes.openrouter import FakeOpenRouter
from tests.service.chat.conftest import PAID
from tests.support.chatkit import tokens_of

OPUS = "anthropic/claude-3-opus"  # dearer than PAID (openai/gpt-4o)
LLAMA = "meta-llama/llama-3.1-70b-instruct"
HF_LLAMA = "meta-llama/Llama-3.1-70B-Instruct"
USAGE = {"prompt_tokens": 30, "completion_tokens": 60, "total_tokens": 90}
PROMPT = [{"role": "user", "content": "fall back"}]


@pytest.fixture
def hf(provider, settings_override):
    """A second fake as Hugging Face's router, serving the same Llama as OpenRouter (which
    lists it dearer), with the catalog synced from both."""
    with FakeOpenRouter() as server:
        settings_override(
            openrouter_base_url=provider.base_url,
            huggingface_base_url=server.base_url,
            huggingface_api_key="hf-test",
            provider_connect_timeout=2.0,
            provider_read_timeout=5.0,
        )
        provider.set_models(
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
        server.set_models([hf_entry(HF_LLAMA, 8.0, 24.0)])
        invalidate_cache()
        sync_provider("openrouter")
        sync_provider("huggingface")
        yield server


def rates(model_id: str) -> pricing.Rates:
    from common.catalog import service as catalog

    return catalog.rates_of(catalog.get_model(model_id))


def fallbacks_counted(failed: str, to: str) -> float:
    return metrics.PROVIDER_FALLBACKS.labels(failed, to)._value.get()


def api_send(send_as, user, model: str, **command):
    options = SendOptions(max_tokens=100)
    return send_as(user, "fall back", model, options=options, prompt=PROMPT, **command).messages[0]


def test_a_named_fallback_answers_within_the_one_hold_at_its_own_rates(provider, member, send_as):
    provider.scenario(PAID, status=503)
    provider.scenario(OPUS, deltas=["from", " opus"], usage=USAGE)
    user = member("pro")
    before = tokens_of(str(user.id))["balance"]
    msg = api_send(send_as, user, PAID, fallbacks=[PAID, OPUS])
    held = [pricing.hold_for(msg.promptEstimate, 100, rates(m)) for m in (PAID, OPUS)]
    assert msg.reserved == max(held) == held[1]  # the one hold, for the dearest
    assert tokens_of(str(user.id))["reserved"] == msg.reserved
    counted = fallbacks_counted("openrouter", "openrouter")

    assert complete(str(msg.id)) == "done"

    final = ChatMessage.objects(id=msg.id).first()
    charge = pricing.tokens_for(30, 60, rates(OPUS))
    assert (final.modelId, final.requestedModelId, final.content) == (OPUS, PAID, "from opus")
    assert final.charged == charge and final.receipt["rates"] == rates(OPUS).as_dict()
    assert final.rates == rates(OPUS).as_dict()
    [entry] = [e for e in wallet.entries_for(str(user.id)) if e["key"] == str(msg.id)]
    assert entry["amount"] == -charge and entry["details"]["modelId"] == OPUS
    assert tokens_of(str(user.id)) == {
        "balance": before - charge,
        "reserved": 0,
        "used": charge,
        "holds": {},
    }
    assert provider.stats()["chat_by_model"] == {PAID: 1, OPUS: 1}  # no retries on PAID
    assert fallbacks_counted("openrouter", "openrouter") == counted + 1
    assert reconcile() == []


def test_the_same_model_through_another_provider_answers_at_that_providers_rates(
    provider, hf, member, send_as
):
    provider.scenario(LLAMA, status=429)
    hf.scenario(HF_LLAMA, deltas=["via", " hf"], usage=USAGE)
    user = member("pro")
    counted = fallbacks_counted("openrouter", "huggingface")
    msg = api_send(send_as, user, LLAMA, same_model_fallback=True)
    assert msg.fallbacks == [
        {"modelId": f"hf:{HF_LLAMA}", "rates": rates(f"hf:{HF_LLAMA}").as_dict()}
    ]
    assert msg.reserved == pricing.hold_for(msg.promptEstimate, 100, rates(LLAMA))

    assert complete(str(msg.id)) == "done"

    final = ChatMessage.objects(id=msg.id).first()
    hf_rates = rates(f"hf:{HF_LLAMA}")
    assert hf_rates != rates(LLAMA)
    assert final.modelId == f"hf:{HF_LLAMA}" and final.content == "via hf"
    assert final.charged == pricing.tokens_for(30, 60, hf_rates)
    assert hf.stats()["last_requests"][-1]["model"] == HF_LLAMA
    assert fallbacks_counted("openrouter", "huggingface") == counted + 1
    assert reconcile() == []


def test_a_dearer_copy_of_the_model_is_not_an_automatic_fallback(provider, hf, member, send_as):
    hf.set_models([hf_entry(HF_LLAMA, 80.0, 240.0)])  # dearer than OpenRouter's listing
    invalidate_cache()
    sync_provider("huggingface")
    msg = api_send(send_as, member("pro"), LLAMA, same_model_fallback=True)
    assert not msg.fallbacks


def test_when_every_candidate_fails_nothing_is_charged(provider, member, send_as):
    provider.scenario(PAID, status=503)
    provider.scenario(OPUS, status=502)
    user = member("pro")
    before = tokens_of(str(user.id))["balance"]
    msg = api_send(send_as, user, PAID, fallbacks=[OPUS])
    assert complete(str(msg.id)) == "failed"
    final = ChatMessage.objects(id=msg.id).first()
    assert final.modelId == PAID and final.charged == 0
    # The last candidate keeps the usual retries with backoff.
    assert provider.stats()["chat_by_model"] == {PAID: 1, OPUS: 4}
    assert tokens_of(str(user.id))["balance"] == before and reconcile() == []


def test_no_fallback_once_a_token_was_generated(provider, member, send_as):
    provider.scenario(PAID, deltas=["a", "b", "c"], midstream_error_after=1)
    user = member("pro")
    msg = api_send(send_as, user, PAID, fallbacks=[OPUS])
    assert complete(str(msg.id)) == "failed"
    assert provider.stats()["chat_by_model"] == {PAID: 1}
    assert reconcile() == []


def test_named_fallbacks_are_checked_like_the_model(provider, member, send_as):
    user = member("pro")
    with pytest.raises(ModelNotFound) as err:
        api_send(send_as, user, PAID, fallbacks=["nobody/nothing"])
    assert err.value.details["field"] == "models.0"
    with pytest.raises(UnsupportedParameter) as err:
        api_send(
            send_as,
            user,
            PAID,
            fallbacks=[PAID, "mistralai/mistral-7b-instruct:free"],
            needs=Needs(tools=True),
            params={"tools": []},
        )
    assert err.value.details["field"] == "models.1"
    assert tokens_of(str(user.id))["holds"] == {} and ChatMessage.objects.count() == 0
    assert get_settings().free_model_rate  # settings in force (the rates above depend on them)
