"""The admin console in a real browser on the real stack: find a user, grant tokens with a
reason (the user's own wallet and the audit log show it), analytics charts, the moderation
queue; a plain user cannot open the console and the API refuses them. Desktop and 390×844."""

from __future__ import annotations

import itertools
import re
import uuid
from datetime import UTC, datetime, timedelta

import requests
from playwright.sync_api import expect

from common.conversations.models import ChatMessage, ChatSession
from common.moderation.service import flag_from_provider, record_blocked_attempt
from common.users.models import User
from tests.e2e.conftest import Tab

_n = itertools.count(1)
RUN = uuid.uuid4().hex[:8]  # the test database outlives a run


def email(tag: str, size: str) -> str:
    return f"admin-{tag}-{size}-{next(_n)}-{RUN}@example.com"


def make_admin(uid: str) -> None:
    User.objects(id=uid).update_one(set__role="admin")


def test_an_admin_grants_tokens_and_the_user_and_the_audit_see_it(tab, browser, live, size):
    page = tab.page
    # The user, in a tab of their own.
    user_ctx = browser.new_context(viewport=page.viewport_size)
    user_page = user_ctx.new_page()
    user_page.set_default_timeout(20_000)
    person = email("person", size)
    try:
        user_errors: list[str] = []
        user_page.on("pageerror", lambda exc: user_errors.append(str(exc)))
        other = Tab(user_page, live.base_url, size, user_errors)
        other.goto("/")
        other.register(person, name="Granted Person")
        other.goto("/wallet")
        expect(user_page.locator("#wallet-total")).to_have_text("10,000")

        admin_id = tab.register(email("boss", size), name="The Admin")
        make_admin(admin_id)
        page.reload()
        # The header has the link on a desktop; on a phone, the drawer.
        if size == "desktop":
            expect(page.locator("#admin-link")).to_be_visible()
        tab.open_drawer()
        page.locator("#admin-side").click()
        expect(page).to_have_url(re.compile(r"/admin$"))
        screen = page.locator("#screen")
        screen.get_by_label("Search").fill(person)
        screen.get_by_role("button", name="Search").click()
        expect(screen.locator("#users-list tbody tr")).to_have_count(1, timeout=20_000)
        tab.axe("admin-users")
        tab.shot("admin-users")
        screen.get_by_role("button", name=person).click()
        card = screen.locator(".user-card")
        expect(card).to_contain_text("Granted Person")
        card.get_by_label("Amount").fill("5000")
        card.get_by_label("Reason").fill("Thank you for the bug report")
        card.get_by_role("button", name="Grant").click()
        expect(card.locator(".notice")).to_have_text("Granted 5,000 tokens")
        expect(screen.locator("#detail-balance")).to_have_text("15,000")
        expect(screen.locator("#detail-purchased")).to_have_text("5,000")
        # The header still shows the admin's own wallet (the answer carried the user's snapshot).
        expect(page.locator("#wallet")).to_have_text("10,000 tokens")
        assert page.evaluate("document.querySelector('#admin-side').hidden") is False
        audit = screen.locator(".user-card").get_by_role("region", name=f"Audit of {person}")
        expect(audit).to_contain_text("tokens.grant")
        expect(audit).to_contain_text("Thank you for the bug report")
        tab.no_horizontal_scroll()
        tab.axe("admin-user")
        tab.shot("admin-user")

        # The user's wallet shows it (after a reload: the grant is not pushed to other tabs).
        user_page.reload()
        expect(user_page.locator("#wallet-total")).to_have_text("15,000")
        expect(user_page.locator("#wallet-purchased")).to_have_text("5,000")
        assert user_errors == []

        # The audit log, in words, filtered by the person's email (any case).
        screen.get_by_role("link", name="Audit log").click()
        screen.locator("#audit-email").fill(person.upper())
        screen.get_by_role("button", name="Filter").click()
        said = screen.locator("#audit-list tbody tr").first
        expect(said).to_contain_text(f"granted 5,000 tokens to Granted Person ({person})")
        expect(said).to_contain_text("balance 10,000 → 15,000")
        screen.locator("#audit-email").fill("")
        # ... and by action.
        screen.locator("#audit-action").fill("tokens.grant")
        screen.get_by_role("button", name="Filter").click()
        row = screen.locator("#audit-list tbody tr").first
        expect(row).to_contain_text("tokens.grant")
        expect(row).to_contain_text("Thank you for the bug report")
        # ... and by UTC day: today's grant is there, nothing from tomorrow on.
        today = datetime.now(UTC).date()
        screen.locator("#audit-from").fill(today.isoformat())
        screen.locator("#audit-to").fill(today.isoformat())
        screen.get_by_role("button", name="Filter").click()
        expect(row).to_contain_text("tokens.grant")
        screen.locator("#audit-from").fill((today + timedelta(days=1)).isoformat())
        screen.locator("#audit-to").fill("")
        screen.get_by_role("button", name="Filter").click()
        expect(screen.locator("#audit-list")).to_contain_text("No audit entries.")
        screen.locator("#audit-from").fill(today.isoformat())
        screen.get_by_role("button", name="Filter").click()
        expect(row).to_contain_text("tokens.grant")
        tab.axe("admin-audit")
        tab.shot("admin-audit")

        screen.get_by_role("link", name="Analytics").click()
        expect(screen.locator("#admin-charts figure.chart canvas")).to_have_count(5)
        expect(screen.locator("#admin-charts")).to_contain_text("New users per day")
        tab.no_horizontal_scroll()
        tab.axe("admin-analytics")
        tab.shot("admin-analytics")

        # A flagged answer in the middle of the person's conversation.
        owner = User.objects.get(email=person)
        chat = ChatSession(sessionId=f"chat_e2e_{RUN}_{size}", userId=owner.id, title="ctx").save()
        start = datetime.now(UTC) - timedelta(minutes=10)
        lines = [f"{size} line {i} {RUN}" for i in range(5)]
        saved = [
            ChatMessage(
                sessionId=chat.sessionId,
                userId=owner.id,
                role="user" if i % 2 == 0 else "assistant",
                content=text,
                createdAt=start + timedelta(minutes=i),
            ).save()
            for i, text in enumerate(lines)
        ]
        flag_from_provider(saved[3].id, "provider refused")
        record_blocked_attempt(owner.id, None, f"please say {size} badterm {RUN}", "badterm")
        record_blocked_attempt(owner.id, None, f"again: {size} BADTERM {RUN}", "BADTERM")

        screen.get_by_role("link", name="Moderation").click()
        expect(screen).to_contain_text("Blocked terms")
        card = screen.locator("li.card", has_text=lines[3])
        card.get_by_role("button", name="View in context").click()
        context = card.get_by_role("list", name="Conversation around the flagged message")
        expect(context.locator("li")).to_have_count(5)
        expect(context.locator("li").nth(0)).to_contain_text(lines[0])
        expect(context.locator("li[aria-current='true']")).to_contain_text(lines[3])
        expect(context.locator("li").nth(4)).to_contain_text(lines[4])
        attempt = screen.locator("li.card", has_text=f"please say {size} badterm {RUN}")
        expect(attempt).to_contain_text("Blocked attempt (not sent)")
        expect(attempt).to_contain_text("Flag: Matched the blocked term “badterm”")
        expect(attempt).to_contain_text("tried 2 times, last")  # the second try counted, not listed
        expect(screen.locator("li.card", has_text=f"again: {size} BADTERM")).to_have_count(0)
        tab.no_horizontal_scroll()
        tab.axe("admin-moderation-context")
        card.get_by_role("button", name="Hide context").click()
        expect(context).to_be_hidden()
        screen.get_by_label("Block a term").fill(f"forbidden{size}")
        screen.get_by_role("button", name="Block", exact=True).click()
        expect(screen.locator("ul.terms")).to_contain_text(f"forbidden{size}")
        screen.get_by_role("button", name=f"Unblock forbidden{size}").click()
        expect(screen.locator("ul.terms")).not_to_contain_text(f"forbidden{size}")
        tab.axe("admin-moderation")
        tab.shot("admin-moderation")
    finally:
        user_ctx.close()


def test_a_user_cannot_open_the_admin_console_and_the_api_refuses(tab, live, size):
    page = tab.page
    tab.register(email("plain", size))
    expect(page.locator("#admin-link")).to_be_hidden()
    tab.goto("/admin")
    expect(page.locator("#screen")).to_contain_text("for administrators only")
    expect(page.locator("#screen table")).to_have_count(0)
    token = page.evaluate("localStorage.getItem('aipasta.token')")
    for path in ("/api/admin/users", "/api/admin/analytics", "/api/admin/audit"):
        res = requests.get(
            live.base_url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        assert (res.status_code, res.json()["code"]) == (403, "FORBIDDEN")
    tab.shot("admin-refused")
