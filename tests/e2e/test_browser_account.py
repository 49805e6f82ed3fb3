"""The account screens in a real browser on the real stack: profile, preferences, password,
sign out everywhere, delete the account, and the usage charts and ledger drawn from real ledger
data (answers streamed by the local OpenRouter stand-in). At desktop size and at 390×844."""

from __future__ import annotations

import csv
import io
import itertools
import re
import uuid

from playwright.sync_api import expect

from common.users.models import User
from tests.e2e.conftest import PASSWORD

_n = itertools.count(1)
RUN = uuid.uuid4().hex[:8]  # the test database outlives a run


def email(tag: str, size: str) -> str:
    return f"account-{tag}-{size}-{next(_n)}-{RUN}@example.com"


def answer_done(page, nth: int = 0) -> None:
    expect(page.locator(".answer").nth(nth)).to_have_class(re.compile(r"\bdone\b"), timeout=30_000)


def test_usage_charts_and_ledger_come_from_real_answers(tab, size):
    page = tab.page
    uid = tab.register(email("usage", size))
    tab.send("Say something short")
    answer_done(page)
    tab.send("And another thing")
    answer_done(page, 1)
    tab.open_drawer()
    page.get_by_role("link", name="Usage").click()
    expect(page).to_have_url(re.compile(r"/account/usage$"))
    charts = page.locator("figure.chart")
    expect(charts).to_have_count(2)
    expect(charts.locator("canvas")).to_have_count(2)
    expect(charts.first).to_contain_text(
        re.compile(r"Tokens used per day: [1-9][\d,]* tokens in 30 days")
    )
    expect(page.locator("#usage-models li")).to_have_count(1)
    expect(page.locator("#usage-models")).to_contain_text("2 answers")
    ledger = page.locator("#ledger-body tbody tr")
    expect(ledger.first).to_contain_text("Chat answer")
    expect(page.locator("#ledger-body")).to_contain_text("Free tokens")
    expect(page.locator("#ledger-body")).to_contain_text("+10,000")
    # The charts' pixels are drawn (not an empty canvas).
    painted = page.evaluate(
        """() => { const c = document.querySelector('figure.chart canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }"""
    )
    assert painted > 100
    page.click("[data-days='7']")
    expect(charts.first).to_contain_text("in 7 days")
    tab.no_horizontal_scroll()
    tab.axe("usage")
    tab.shot("usage")
    with page.expect_download() as info:
        page.click("#ledger-csv")
    rows = list(csv.DictReader(io.StringIO(info.value.path().read_text())))
    kinds = [r["Kind"] for r in rows]
    assert kinds.count("Chat answer") >= 2 and "Free tokens" in kinds
    # The export is the whole ledger: its sum is the balance.
    assert sum(int(r["Tokens"]) for r in rows) == User.objects.get(id=uid).tokens.balance


def test_profile_preferences_and_password(tab, size):
    page = tab.page
    address = email("prefs", size)
    tab.register(address)
    page.goto(tab.base_url + "/account")
    expect(page.locator("#screen h1")).to_have_text("Account")
    scr = page.locator("#screen")
    tab.allow_error("example.com/me.png")  # no internet here: the avatar's picture cannot load
    scr.get_by_label("Name").fill("Renamed Person")
    scr.get_by_label("Avatar (image address)").fill("https://example.com/me.png")
    scr.get_by_role("button", name="Save profile").click()
    expect(page.locator("#screen .notice").first).to_have_text("Profile saved.")
    tab.axe("account-profile")
    tab.shot("account-profile")

    scr.get_by_role("link", name="Preferences").click()
    scr.get_by_label("Theme").select_option("dark")
    scr.get_by_label("Temperature").fill("0.4")
    scr.get_by_label("Max tokens").fill("700")
    scr.get_by_role("button", name="Save preferences").click()
    expect(page.locator("#screen .notice")).to_contain_text("Preferences saved")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.reload()
    expect(scr.get_by_label("Temperature")).to_have_value("0.4")
    expect(scr.get_by_label("Max tokens")).to_have_value("700")
    tab.axe("account-preferences")
    tab.no_horizontal_scroll()
    tab.shot("account-preferences")
    page.get_by_role("link", name="← Back to chat").click()
    expect(page.locator("#max-tokens")).to_have_value("700")
    prefs = User.objects.get(email=address).preferences
    assert (prefs.theme, prefs.temperature, prefs.maxTokens) == ("dark", 0.4, 700)

    page.goto(tab.base_url + "/account/security")
    scr.get_by_label("Current password").fill(PASSWORD)
    scr.get_by_label("New password").fill("brand-new-pass-2")
    scr.get_by_role("button", name="Change password").click()
    expect(page.locator("#screen .notice").first).to_contain_text("Password saved")
    page.reload()  # the fresh token was kept: still signed in
    expect(page.locator("#screen h1")).to_have_text("Account")
    tab.axe("account-security")
    tab.shot("account-security")
    scr.get_by_role("button", name="Sign out everywhere").click()
    page.locator("#dialog").get_by_role("button", name="Sign out everywhere").click()
    expect(page.locator("#auth-view")).to_be_visible()


def test_delete_account_says_what_happens_to_the_wallet(tab, size):
    page = tab.page
    # No GOOGLE_CLIENT_ID on this stack: no Google button, no request for Google's script.
    expect(page.locator("#auth-view")).to_be_visible()
    expect(page.locator("#google-signin")).to_be_hidden()
    address = email("delete", size)
    uid = tab.register(address)
    page.goto(tab.base_url + "/account/security")
    zone = page.locator(".danger-zone")
    expect(zone).to_contain_text("10,000 tokens")
    expect(zone).to_contain_text("forfeited and not refunded")
    zone.get_by_label("Password").fill(PASSWORD)
    zone.get_by_label("Type DELETE to confirm").fill("DELETE")
    zone.get_by_role("button", name="Delete my account").click()
    expect(page.locator("#auth-view")).to_be_visible()
    # The page says what happened, not just a bare login form.
    notice = page.locator("#auth-notice")
    expect(notice).to_contain_text("Your account is deleted")
    expect(notice).to_contain_text(address)
    expect(notice).to_contain_text("10,000 tokens were forfeited")
    expect(page).to_have_title(re.compile("account is deleted"))
    tab.axe("account-deleted")
    tab.shot("account-deleted")
    assert not User.objects.get(id=uid).isActive
