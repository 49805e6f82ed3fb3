"""The public landing page, and every screen on a phone: at 390×844 (the `size` fixture's phone)
and at 360×740 nothing scrolls sideways, tables are cards, the composer is one line until it
grows, and axe finds nothing serious; at 1280×800 the same screens for comparison."""

from __future__ import annotations

import itertools
import re

from playwright.sync_api import expect

from common.payments import plans
from common.users.models import User

_n = itertools.count(1)
NARROW = {"width": 360, "height": 740}


def test_the_landing_page_says_what_it_is_the_free_allowance_and_the_plans(tab, live, size):
    plans.seed_defaults()
    page = tab.page
    page.reload()
    landing = page.locator(".landing")
    expect(page.locator("#landing-title")).to_contain_text("hundreds of AI models")
    expect(landing).to_contain_text("compare their answers side by side")
    expect(page.locator("#landing-free")).to_contain_text("10,000 free tokens")
    expect(page.locator("#landing-free")).to_contain_text("50 requests a day")
    cards = page.locator("#landing-plans li")
    expect(cards).to_have_count(4)
    expect(cards.filter(has_text="Pro")).to_contain_text("₹499.00")
    expect(cards.filter(has_text="Pro")).to_contain_text("paid models included")
    expect(page.locator("#auth-title")).to_have_text("Log in")
    tab.no_horizontal_scroll()
    tab.axe("landing")
    tab.shot("landing")
    if size == "phone":
        page.set_viewport_size(NARROW)
        tab.no_horizontal_scroll()
        tab.axe("landing-360")
        tab.shot("landing-360")


def viewport_now(page) -> int:
    return page.viewport_size["width"]


def _screens(tab, admin: bool) -> list[str]:
    paths = ["/", "/wallet", "/account", "/account/preferences", "/account/security"]
    paths += ["/account/usage", "/account/api-keys"]
    if admin:
        paths += ["/admin", "/admin/analytics", "/admin/moderation", "/admin/audit"]
    return paths


def test_no_screen_scrolls_sideways_and_tables_are_cards_on_a_phone(tab, fake, size):
    plans.seed_defaults()
    page = tab.page
    address = f"screens-{size}-{next(_n)}@example.com"
    uid = tab.register(address)
    User.objects(id=uid).update_one(set__role="admin")
    fake.scenario("*", deltas=["A short answer."], interval=0.01)
    tab.send("Hello there")
    expect(page.locator(".answer")).to_have_class(re.compile(r"\bdone\b"), timeout=30_000)
    composer = page.locator("#composer").bounding_box()
    prompt = page.locator("#prompt").bounding_box()
    viewport = page.viewport_size
    # The message box is one line until it grows; the composer leaves the conversation room.
    assert prompt["height"] < 60, prompt
    assert composer["height"] < viewport["height"] * (0.3 if size == "phone" else 0.25), composer
    page.fill("#prompt", "line\n" * 6)
    page.dispatch_event("#prompt", "input")
    assert page.locator("#prompt").bounding_box()["height"] > prompt["height"] + 40
    page.fill("#prompt", "")
    tab.shot("composer")
    # Idle means quiet: a snapshot arriving with an answer does not ask for another estimate
    # (once, each estimate's snapshot asked for the next, forever).
    asked: list[str] = []
    page.on("request", lambda r: "/api/chat/estimate" in r.url and asked.append(r.url))
    page.fill("#prompt", "One more question")
    page.wait_for_timeout(2500)
    assert 1 <= len(asked) <= 2, f"{len(asked)} estimates for one edit of the message box"
    page.fill("#prompt", "")
    if size == "phone":
        page.set_viewport_size(NARROW)
    page.reload()
    expect(page.locator("#conn")).to_have_class(re.compile(r"\bup\b"))
    for path in _screens(tab, admin=True):
        tab.goto(path)
        expect(page.locator("#app")).to_be_visible()
        page.wait_for_load_state("networkidle")
        tab.no_horizontal_scroll()
        tab.axe(f"screen {path}")
        name = "screen" + (path.replace("/", "-") if path != "/" else "-chat")
        tab.shot(f"{name}-360" if size == "phone" else name)
        tabs = page.locator(".screen-tabs .tab")
        for i in range(tabs.count()):  # every tab of the screen is on it, none cut off
            box = tabs.nth(i).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= viewport_now(page), (path, i)
        rows = page.locator("table.data tbody tr")
        if size == "phone" and rows.count():
            # A card: the row is no wider than the screen and its cells are stacked.
            first = rows.first.bounding_box()
            assert first["width"] <= NARROW["width"], (path, first)
            assert page.locator("table.data thead").first.bounding_box()["height"] <= 1
