"""The personal API keys screen in a real browser on the real stack: create a key with a name, a
daily cap and a model allow-list; the secret is shown once; the list's prefix, name, last use and
spend follow a real `/v1/chat/completions` call made with the key; revoking shows it revoked.
At desktop size and at 390×844."""

from __future__ import annotations

import itertools
import re
import uuid

import requests
from playwright.sync_api import expect

from common.apikeys import service as keys
from common.apikeys.models import ApiKey
from tests.support.chatkit import FREE
from tests.support.services import wait_for

_n = itertools.count(1)
RUN = uuid.uuid4().hex[:8]  # the test database outlives a run


def test_create_use_and_revoke_a_key(tab, size):
    page = tab.page
    tab.register(f"apikeys-{size}-{next(_n)}-{RUN}@example.com")
    page.goto(tab.base_url + "/account/api-keys")
    scr = page.locator("#screen")
    expect(scr.locator("#keys-list")).to_contain_text("No keys yet.")
    scr.get_by_label("Name").fill("my script")
    scr.get_by_label("Daily token cap").fill("5000")
    scr.get_by_label("Models (comma-separated ids)").fill(FREE)
    scr.get_by_role("button", name="Create key").click()

    # The secret, once, with a copy button that really copies it.
    secret_box = page.locator("#key-secret")
    expect(secret_box).to_contain_text("shown only once")
    secret = secret_box.locator(".secret").inner_text().strip()
    assert secret.startswith("ap-") and len(secret) > 20
    secret_box.get_by_role("button", name="Copy").click()
    expect(secret_box.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    row = scr.locator("#keys-list tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("[data-label='Name']")).to_have_text("my script")
    expect(row.locator("[data-label='Key']")).to_have_text(secret[:10] + "…")
    expect(row.locator("[data-label='Models']")).to_have_text(FREE)
    expect(row.locator("[data-label='Caps']")).to_have_text("5,000/day")
    expect(row.locator("[data-label='Spent']")).to_have_text("0 tokens · 0 requests")
    expect(row.locator("[data-label='Last used']")).to_have_text("never")
    tab.no_horizontal_scroll()
    tab.axe("account-api-keys")
    tab.shot("account-api-keys")

    page.reload()
    expect(row).to_have_count(1)
    expect(page.locator("#key-secret")).to_be_empty()
    assert secret not in page.content()

    # One real call with the key; the list follows it after a reload.
    res = requests.post(
        tab.base_url + "/v1/chat/completions",
        headers={"Authorization": f"Bearer {secret}"},
        json={"model": FREE, "messages": [{"role": "user", "content": "hello"}]},
        timeout=60,
    )
    assert res.status_code == 200, res.text
    spent = res.json()["usage"]["total_tokens"]
    assert spent > 0
    key_id = ApiKey.objects(prefix=secret[:10]).first().id

    def spent_on_key() -> int:
        return keys.key_dict(ApiKey.objects(id=key_id).first())["spentTokens"]

    wait_for(lambda: spent_on_key() == spent, 20, 0.2, "spend")
    page.reload()
    expect(row.locator("[data-label='Spent']")).to_have_text(f"{spent:,} tokens · 1 request")
    expect(row.locator("[data-label='Last used']")).to_have_text(re.compile(r"\d{4}.* UTC$"))

    # The call is an API usage record: on the usage screen per key, never a conversation.
    page.goto(tab.base_url + "/account/usage")
    expect(page.locator("#usage-keys")).to_contain_text("my script")
    requests_table = page.locator("#api-requests-body tbody tr")
    expect(requests_table).to_have_count(1)
    expect(requests_table.first).to_contain_text(FREE)
    expect(requests_table.first.locator("[data-label='Charged']")).to_have_text(f"{spent:,}")
    tab.no_horizontal_scroll()
    tab.axe("usage-api-requests")
    page.locator("#by-key-title").scroll_into_view_if_needed()
    tab.shot("usage-api-requests")
    with page.expect_download() as info:
        page.click("#api-requests-csv")
    exported = info.value.path().read_text().splitlines()
    assert len(exported) == 2 and FREE in exported[1]
    page.goto(tab.base_url + "/account/api-keys")

    row.get_by_role("button", name="Revoke my script").click()
    page.locator("#dialog").get_by_role("button", name="Revoke").click()
    expect(row.locator("td").last).to_have_text(re.compile(r"^revoked .* UTC$"))
    page.reload()
    expect(row.locator("td").last).to_have_text(re.compile(r"^revoked "))
    assert ApiKey.objects(id=key_id).first().revokedAt is not None
    refused = requests.post(
        tab.base_url + "/v1/chat/completions",
        headers={"Authorization": f"Bearer {secret}"},
        json={"model": FREE, "messages": [{"role": "user", "content": "again"}]},
        timeout=60,
    )
    assert refused.status_code == 401
    tab.axe("account-api-keys-revoked")
    tab.no_horizontal_scroll()
