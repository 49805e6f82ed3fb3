"""A person in a real browser (Debian's chromium, driven by Playwright) against the real stack:
gunicorn, a Celery worker process, Redis, nx-27017 and a local OpenRouter stand-in."""

from __future__ import annotations

import re
import shutil

import pytest
from playwright.sync_api import expect, sync_playwright

from common.catalog.service import invalidate_cache, sync_provider
from config import use_settings
from tests.fakes.openrouter import FakeOpenRouter
from tests.support.stack import Stack

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FREE_MODEL = "meta-llama/llama-3.1-405b-instruct:free"
OTHER_MODEL = "deepseek/deepseek-r1:free"


@pytest.fixture(scope="module")
def fake():
    with FakeOpenRouter() as server:
        yield server


@pytest.fixture(scope="module")
def stack(base_settings, fake):
    settings = base_settings.with_overrides(openrouter_base_url=fake.base_url)
    use_settings(settings)
    running = Stack(settings, name="browser").start()
    yield running
    running.stop()


@pytest.fixture
def live(stack, fake):
    use_settings(stack.settings)
    fake.reset()
    invalidate_cache()
    sync_provider("openrouter")
    return stack


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        instance = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser, live):
    context = browser.new_context()
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(live.base_url + "/")
    yield tab
    context.close()
    assert errors == [], f"the page raised: {errors}"


def register(page, email: str) -> None:
    page.click("#auth-switch")
    page.fill("#auth-name", "Browser Person")
    page.fill("#auth-email", email)
    page.fill("#auth-password", "correct-horse-1")
    page.click("#auth-submit")
    expect(page.locator("#wallet")).to_have_text("10,000 tokens")
    expect(page.locator("#conn")).to_have_class(re.compile(r"\bup\b"))


def test_register_chat_stream_and_history(page, fake):
    fake.scenario(FREE_MODEL, deltas=["Hello", " from", " the", " stream"], interval=0.02)
    register(page, "browser1@example.com")
    expect(page.locator("#model-chips .chip")).to_have_text(f"{FREE_MODEL} ×")

    page.fill("#prompt", "Say hello")
    page.press("#prompt", "Enter")

    answer = page.locator(".answer").first
    expect(answer).to_have_class(re.compile(r"\bdone\b"), timeout=20_000)
    expect(answer.locator(".text")).to_have_text("Hello from the stream")
    expect(answer.locator(".cost")).to_contain_text("tokens")
    expect(page.locator(".user-msg")).to_have_text("Say hello")
    # The wallet shows the charge, and the session is listed under its title.
    expect(page.locator("#wallet")).not_to_have_text("10,000 tokens")
    expect(page.locator("#sessions li")).to_have_count(1)

    # After a reload the conversation comes back from the history API.
    page.reload()
    page.locator("#sessions li").first.click()
    expect(page.locator(".user-msg")).to_have_text("Say hello")
    expect(page.locator(".answer .text")).to_have_text("Hello from the stream")


def test_two_models_side_by_side(page, fake):
    fake.scenario(FREE_MODEL, deltas=["Left", " answer"], interval=0.02)
    fake.scenario(OTHER_MODEL, deltas=["Right", " answer"], interval=0.02)
    register(page, "browser2@example.com")
    page.fill("#model-search", "deepseek-r1")
    page.locator("#model-list li").first.dispatch_event("mousedown")
    expect(page.locator("#model-chips .chip")).to_have_count(2)

    page.fill("#prompt", "Compare yourselves")
    page.click("#send")

    answers = page.locator(".answer")
    expect(answers).to_have_count(2)
    for model, text in ((FREE_MODEL, "Left answer"), (OTHER_MODEL, "Right answer")):
        card = answers.filter(has=page.locator(".model", has_text=model))
        expect(card).to_have_class(re.compile(r"\bdone\b"), timeout=20_000)
        expect(card.locator(".text")).to_have_text(text)


def test_paid_model_shows_the_paywall(page, fake):
    register(page, "browser3@example.com")
    page.locator("#model-chips .chip").first.click()  # remove the default model
    page.fill("#model-search", "gpt-4o")
    page.locator("#model-list li").first.dispatch_event("mousedown")
    page.fill("#prompt", "Hello paid model")
    page.click("#send")
    expect(page.locator("#send-error")).to_contain_text("plan")
    expect(page.locator(".answer")).to_have_count(0)
    expect(page.locator("#wallet")).to_have_text("10,000 tokens")


def test_an_older_wallet_snapshot_never_replaces_a_newer_one(page):
    """Snapshots reach the page out of order (several streams, REST, the socket): the wallet
    shown is the one with the highest `walletVersion`."""
    register(page, "versions@example.com")
    shown = page.evaluate("() => state.user")
    assert shown["walletVersion"] == 1

    def offer(version: int, balance: int) -> None:
        snap = {
            **shown,
            "walletVersion": version,
            "tokens": {**shown["tokens"], "balance": balance},
        }
        page.evaluate("(u) => showUser(u)", snap)

    offer(5, 9_000)
    expect(page.locator("#wallet")).to_have_text("9,000 tokens")
    offer(4, 9_500)  # older: ignored
    expect(page.locator("#wallet")).to_have_text("9,000 tokens")
    offer(6, 8_000)
    expect(page.locator("#wallet")).to_have_text("8,000 tokens")
