"""The catalog as a person meets it: one model offered by two providers (and OpenRouter's free
variant) is one entry with its routes, each labelled with its provider, paid routes locked on
the free plan with the plan that unlocks them; search by capability and context; "Free only";
the same grouping in Preferences, provider names on answers and in Usage."""

from __future__ import annotations

import itertools
import re

import pytest
from playwright.sync_api import expect

from common.catalog import service as catalog
from common.payments import plans
from tests.fakes.catalog_data import default_models, model_entry
from tests.fakes.openrouter import FakeOpenRouter

_n = itertools.count(1)
FREE_ROUTE = "deepseek/deepseek-r1:free"
HF_ROUTE = "hf:deepseek-ai/DeepSeek-R1"
PAID_ROUTE = "deepseek/deepseek-r1"


@pytest.fixture(scope="module")
def hugging_face():
    """A second local server speaking the OpenAI format, as Hugging Face's router."""
    with FakeOpenRouter() as server:
        yield server


@pytest.fixture(scope="module")
def stack_settings(base_settings, fake, hugging_face):
    return base_settings.with_overrides(
        openrouter_base_url=fake.base_url,
        huggingface_base_url=hugging_face.base_url,
        huggingface_api_key="hf-test-key",
    )


@pytest.fixture
def two_providers(fake, hugging_face):
    """DeepSeek R1 through Hugging Face and (paid) OpenRouter, beside OpenRouter's free route."""
    paid = model_entry(PAID_ROUTE, "DeepSeek: R1", "0.0000007", "0.0000025", 163840)
    fake.set_models([*default_models(), paid])
    route = {"status": "live", "context_length": 64000, "pricing": {"input": 0.55, "output": 2.19}}
    hugging_face.set_models([{"id": "deepseek-ai/DeepSeek-R1", "providers": [route]}])
    catalog.invalidate_cache()
    plans.seed_defaults()


def test_one_model_through_two_providers_is_one_entry_with_labelled_locked_routes(
    tab, fake, two_providers, size
):
    page = tab.page
    tab.register(f"catalog-{size}-{next(_n)}@example.com")
    page.fill("#model-search", "r1")
    group = page.locator("#model-list li.group", has_text="DeepSeek R1")
    expect(group).to_have_count(1)
    routes = group.locator("li.option")
    expect(routes).to_have_count(3)
    assert routes.evaluate_all("rs => rs.map(r => r.dataset.modelId)") == [
        FREE_ROUTE,
        HF_ROUTE,
        PAID_ROUTE,
    ]
    expect(group.locator(".group-routes")).to_have_text("3 providers")
    expect(routes.nth(0).locator(".opt-name")).to_have_text("OpenRouter")
    expect(routes.nth(1).locator(".opt-name")).to_have_text("Hugging Face")
    expect(routes.nth(0)).to_contain_text("free")
    for locked in (routes.nth(1), routes.nth(2)):
        expect(locked).to_contain_text("needs Pro")
        expect(locked).to_have_class(re.compile(r"\blocked\b"))
    tab.no_horizontal_scroll()
    tab.axe("picker-grouped")
    tab.shot("catalog-grouped")
    # Free only keeps the free route; capability and context words search.
    page.check("#model-free")
    expect(group.locator("li.option")).to_have_count(1)
    page.uncheck("#model-free")
    page.fill("#model-search", "images")
    expect(page.locator("#model-list li.option[data-model-id='openai/gpt-4o']")).to_have_count(1)
    expect(page.locator(f"#model-list li.option[data-model-id='{FREE_ROUTE}']")).to_have_count(0)
    page.fill("#model-search", "r1 150k+")
    ids = page.locator("#model-list li.option").evaluate_all("rs => rs.map(r => r.dataset.modelId)")
    assert set(ids) == {FREE_ROUTE, PAID_ROUTE}  # Hugging Face's has a 64K window
    # Picking a locked route says so before the send; the box is empty again.
    page.fill("#model-search", "hugging r1")
    page.locator(f"#model-list li.option[data-model-id='{HF_ROUTE}']").click()
    expect(page.locator("#model-search")).to_have_value("")
    chip = page.locator(f"#model-chips .chip[data-model-id='{HF_ROUTE}']")
    expect(chip).to_contain_text("DeepSeek R1")
    expect(chip).to_contain_text("Hugging Face")
    expect(page.locator("#model-locked")).to_contain_text("needs the Pro plan")
    tab.shot("catalog-locked-chip")
    chip.locator(".chip-remove").click()
    expect(page.locator("#model-locked")).to_be_hidden()
    # An answer names its model and provider; so does Usage.
    fake.scenario("*", deltas=["ok"], interval=0.01)
    tab.send("Hello")
    answer = page.locator(".answer")
    expect(answer).to_have_class(re.compile(r"\bdone\b"), timeout=30_000)
    expect(answer.locator(".provider")).to_have_text("OpenRouter")
    # Preferences: one group per model, one option per provider.
    tab.goto("/account/preferences")
    options = page.locator("select[name=defaultModel] optgroup[label='DeepSeek R1'] option")
    expect(options).to_have_count(3)
    texts = options.all_inner_texts()
    assert texts[0] == "DeepSeek R1 · OpenRouter · free"
    assert texts[1].startswith("DeepSeek R1 · Hugging Face · paid")
    tab.axe("preferences")
    tab.shot("catalog-preferences")
    tab.goto("/account/usage")
    expect(page.locator("#usage-models")).to_contain_text("· OpenRouter")
