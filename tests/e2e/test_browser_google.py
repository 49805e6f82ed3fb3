"""Google sign-in in a real browser: the button shows only when GOOGLE_CLIENT_ID is set, and
signing in through it (a local stand-in of Google's script and a local JWKS) opens the app."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from common.users.models import User
from tests.fakes.gis import FakeGis
from tests.fakes.google_jwks import FakeGoogle


@pytest.fixture(scope="module")
def google():
    with FakeGoogle() as server:
        yield server


@pytest.fixture(scope="module")
def gis(google):
    with FakeGis(google) as server:
        yield server


@pytest.fixture(scope="module")
def stack_settings(base_settings, fake, google, gis):
    return base_settings.with_overrides(
        openrouter_base_url=fake.base_url,
        google_client_id=google.client_id,
        google_jwks_url=google.jwks_url,
        google_gis_url=gis.script_url,
    )


def test_sign_in_with_google_opens_the_app(tab, gis, size):
    page = tab.page
    address = f"gina-{size}-{uuid.uuid4().hex[:8]}@example.com"
    gis.account = {"sub": uuid.uuid4().hex, "email": address, "name": "Gina Google"}
    button = page.get_by_role("button", name="Continue with Google")
    expect(button).to_be_visible()
    tab.axe("login-google")
    tab.shot("login-google")
    button.click()
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#wallet")).to_have_text("10,000 tokens")
    expect(page.locator("#conn")).to_have_class(re.compile(r"\bup\b"))
    user = User.objects.get(email=address)
    assert user.googleId == gis.account["sub"] and not user.password
    # A Google-only account is offered to set a first password.
    tab.goto("/account/security")
    expect(page.locator("#pw-title")).to_have_text("Set a password")
