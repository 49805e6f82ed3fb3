"""The Content-Security-Policy in a real browser (Debian's chromium): `connect-src 'self'`
lets the page stream over its own origin's websocket and blocks connections anywhere else."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.services import free_port

FREE_MODEL = "meta-llama/llama-3.1-405b-instruct:free"

# Records every CSP violation the page reports, before any of the page's own scripts run.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__cspViolations.push({directive: e.violatedDirective, uri: e.blockedURI}));
"""


@pytest.fixture
def page(browser, live):
    """A bare page (the e2e conftest's `tab` would fail on the violation this module provokes)."""
    context = browser.new_context()
    tab = context.new_page()
    tab.add_init_script(RECORD_VIOLATIONS)
    tab.goto(live.base_url + "/")
    yield tab
    context.close()


def test_the_chat_page_streams_under_connect_src_self(page, fake):
    csp = page.evaluate("() => fetch('/').then(r => r.headers.get('content-security-policy'))")
    assert "connect-src 'self'" in csp and "ws:" not in csp and "wss:" not in csp, csp
    fake.scenario(FREE_MODEL, deltas=["Same", " origin", " stream"], interval=0.02)
    page.click("#auth-switch")
    page.fill("#auth-name", "CSP Person")
    page.fill("#auth-email", "csp@example.com")
    page.fill("#auth-password", "correct-horse-1")
    page.click("#auth-submit")
    expect(page.locator("#conn")).to_have_class(re.compile(r"\bup\b"))
    expect(page.locator("#model-chips .chip")).to_have_count(1)  # models loaded
    page.fill("#prompt", "Stream please")
    page.press("#prompt", "Enter")
    answer = page.locator(".answer").first
    expect(answer).to_have_class(re.compile(r"\bdone\b"), timeout=20_000)
    expect(answer.locator(".text")).to_have_text("Same origin stream")
    assert page.evaluate("() => window.__cspViolations") == []


def test_a_websocket_to_another_host_is_blocked(page):
    elsewhere = f"ws://127.0.0.1:{free_port()}/steal"
    page.evaluate(f"() => {{ try {{ new WebSocket('{elsewhere}'); }} catch (e) {{}} }}")
    page.wait_for_function("() => window.__cspViolations.length > 0", timeout=10_000)
    violations = page.evaluate("() => window.__cspViolations")
    assert violations[0]["directive"] == "connect-src", violations
    assert violations[0]["uri"].startswith("ws://127.0.0.1:"), violations
