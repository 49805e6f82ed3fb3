"""Mail journeys in a real browser on the real stack (gunicorn, a Celery worker), with a real SMTP
server on loopback (aiosmtpd) receiving what the worker sends: forgot → mail → link → new
password → signed in, old sessions dead; sign-up → confirm the address → buy → receipt mail and
the printable receipt; change the address; a wrong current password keeps the user signed in;
"sign out everywhere" tells another tab why and keeps its draft. At 1280×800 and 390×844."""

from __future__ import annotations

import itertools
import re
import uuid
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import expect

from common.mail.models import Mail
from common.payments import plans
from common.users.models import User
from tests.e2e.conftest import PASSWORD, SCREENSHOTS, SIZES
from tests.fakes.smtp import links_in, text_of, token_of
from tests.support.services import wait_for

FRAME = "iframe.razorpay-checkout-frame"
NEW_PASSWORD = "battery-staple-horse-9"
_n = itertools.count(1)
RUN = uuid.uuid4().hex[:8]


def email(tag: str, size: str) -> str:
    return f"mail-{tag}-{size}-{next(_n)}-{RUN}@example.com"


@pytest.fixture(scope="module")
def stack_settings(base_settings, fake, mailserver, razorpay, checkout):
    return base_settings.with_overrides(
        openrouter_base_url=fake.base_url,
        smtp_host="127.0.0.1",
        smtp_port=mailserver.port,
        smtp_starttls=False,
        razorpay_key_id=razorpay.key_id,
        razorpay_key_secret=razorpay.key_secret,
        razorpay_webhook_secret=razorpay.webhook_secret,
        razorpay_base_url=razorpay.base_url,
        razorpay_checkout_url=checkout.script_url,
    )


@pytest.fixture(autouse=True)
def on_sale(live, razorpay, checkout, mailserver):
    razorpay.reset()
    checkout.reset()
    mailserver.reset()
    plans.seed_defaults()


def follow(tab, link: str) -> None:
    """Open a link from a mail. Links start with APP_BASE_URL; the stack serves them on its own
    port, so the same path and fragment are opened there."""
    parts = urlsplit(link)
    assert link.startswith("http://localhost:5000/"), link
    tab.page.goto(f"{tab.base_url}{parts.path}#{parts.fragment}")


def mailed_link(mailserver, to: str, kind: str, count: int = 1) -> str:
    message = mailserver.wait_for(to, kind, count)
    token = token_of(message)
    return next(link for link in links_in(message) if token in link)


def test_forgot_password_by_mail_signs_in_and_ends_old_sessions(tab, size, mailserver):
    page = tab.page
    address = email("forgot", size)
    res = requests.post(
        f"{tab.base_url}/api/auth/register",
        json={"email": address, "password": PASSWORD, "name": "Rosa"},
        timeout=30,
    )
    old = res.json()["data"]["token"]  # a session on another device
    page.get_by_role("link", name="Forgot password?").click()
    expect(page).to_have_url(re.compile(r"/forgot-password$"))
    expect(page.locator("h1")).to_have_text("Forgot your password?")
    tab.axe("forgot-password")
    tab.shot("forgot-password")
    page.get_by_label("Email").fill(address)
    page.get_by_role("button", name="Send the link").click()
    expect(page.locator(".notice.success")).to_contain_text(f"If an account uses {address}")
    tab.shot("forgot-password-sent")

    link = mailed_link(mailserver, address, "reset_password")
    assert "for 30 minutes" in text_of(mailserver.to(address, "reset_password")[0])
    follow(tab, link)
    expect(page.locator("h1")).to_have_text("Choose a new password")
    assert "#token" not in page.url  # taken out of the address bar at once
    tab.no_horizontal_scroll()
    tab.axe("reset-password")
    tab.shot("reset-password")
    page.get_by_label("New password").fill("password1")
    page.get_by_role("button", name="Set the new password").click()
    expect(page.locator("#reset-error")).to_contain_text("too easy to guess")
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set the new password").click()
    # Signed in: the app opens with the account's wallet.
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("#wallet")).to_have_text("10,000 tokens")
    expect(page.locator("#conn")).to_have_class(re.compile(r"\bup\b"))
    tab.shot("reset-password-signed-in")
    me = requests.get(f"{tab.base_url}/api/auth/me", headers={"Authorization": f"Bearer {old}"})
    assert (me.status_code, me.json()["details"]["reason"]) == (401, "PASSWORD_RESET")
    # The link worked once.
    follow(tab, link)
    page.get_by_label("New password").fill("another-long-phrase-7")
    page.get_by_role("button", name="Set the new password").click()
    expect(page.locator(".notice.error")).to_contain_text("already used")
    tab.allow_error("400 (BAD REQUEST)")
    mailserver.wait_for(address, "password_changed")


def test_sign_up_confirm_the_address_then_buy_and_print_the_receipt(
    tab, size, mailserver, razorpay, checkout
):
    page = tab.page
    address = email("verify", size)
    uid = tab.register(address, verified=False)
    mailserver.wait_for(address, "verify_email")
    # The free models work at once, confirmed or not.
    tab.send("Say something short")
    expect(page.locator(".answer").first).to_have_class(re.compile(r"\bdone\b"), timeout=30_000)
    page.click("#wallet")
    notice = page.locator("#wallet-verify .verify-notice")
    expect(notice).to_contain_text("Confirm your email address to buy tokens or a plan")
    expect(page.locator("[data-plan='pro-monthly'] button.buy")).to_be_disabled()
    tab.no_horizontal_scroll()
    tab.axe("wallet-unconfirmed")
    tab.shot("wallet-unconfirmed")
    notice.get_by_role("button", name="Send a new link").click()
    expect(notice).to_contain_text(f"A new link is on its way to {address}")
    link = mailed_link(mailserver, address, "verify_email", count=2)

    follow(tab, link)
    expect(page.locator("h1")).to_have_text("Confirm your email address")
    tab.axe("verify-email")
    page.get_by_role("button", name="Confirm my address").click()
    expect(page.locator(".notice.success")).to_contain_text(f"{address} is confirmed")
    tab.shot("verify-email-done")
    assert User.objects.get(id=uid).emailVerified

    page.goto(tab.base_url + "/wallet")
    expect(page.locator("#wallet-verify .verify-notice")).to_have_count(0)
    pack = page.locator("[data-plan='tokens-50k']")
    expect(pack.locator("button.buy")).to_be_enabled()
    pack.locator("button.buy").click()
    expect(page.locator(FRAME)).to_be_visible()
    frame = page.frame_locator(FRAME)
    frame.get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(page.locator("#wallet-message")).to_contain_text("Payment received")
    receipt_mail = mailserver.wait_for(address, "receipt")
    (payment_id,) = razorpay.payments
    assert payment_id in text_of(receipt_mail) and "GST (18 %)" in text_of(receipt_mail)

    row = page.locator("#payments-body tbody tr").first
    row.get_by_role("link", name=re.compile(r"^Receipt ")).click()
    expect(page).to_have_url(re.compile(r"/receipt/[0-9a-f]{24}$"))
    expect(page.locator("#links-card")).not_to_contain_text("null")
    receipt = page.locator("article.receipt")
    expect(receipt).to_contain_text(payment_id)
    expect(receipt).to_contain_text("Token Pack 50K (token pack)")
    expect(receipt).to_contain_text("GST included (18 %)")
    expect(receipt).to_contain_text("50,000")
    expect(page.get_by_role("button", name="Print or save as PDF")).to_be_visible()
    tab.no_horizontal_scroll()
    tab.axe("receipt")
    tab.shot("receipt")
    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="Print or save as PDF")).to_be_hidden()
    tab.shot("receipt-print")


def test_change_the_address_from_the_account(tab, size, mailserver):
    page = tab.page
    address, new = email("old", size), email("new", size)
    tab.register(address)
    page.goto(tab.base_url + "/account")
    section = page.locator(".email-card")
    expect(section).to_contain_text(address)
    expect(section).to_contain_text("Confirmed")
    section.get_by_label("New email address").fill(new)
    section.get_by_label("Your password").fill(PASSWORD)
    section.get_by_role("button", name="Change address").click()
    expect(section.locator(".notice.success")).to_contain_text(f"We sent a link to {new}")
    tab.no_horizontal_scroll()
    tab.axe("account-email")
    tab.shot("account-email")
    follow(tab, mailed_link(mailserver, new, "confirm_new_email"))
    page.get_by_role("button", name="Confirm my new address").click()
    expect(page.locator(".notice.success")).to_contain_text(f"Your account's address is now {new}")
    tab.shot("confirm-email-done")
    notice = mailserver.wait_for(address, "email_changed")
    assert new in text_of(notice)
    page.get_by_role("link", name="Continue to AI Pasta").click()
    expect(page.locator(".email-card #email-current")).to_have_text(new)


def test_a_wrong_current_password_keeps_the_user_signed_in(tab, size):
    page = tab.page
    tab.register(email("wrongpw", size))
    page.goto(tab.base_url + "/account/security")
    page.get_by_label("Current password").fill("not-my-password")
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    current = page.get_by_label("Current password")
    expect(page.locator(".field-error")).to_have_text("That is not your current password.")
    expect(current).to_have_attribute("aria-invalid", "true")
    expect(current).to_be_focused()
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#auth-view")).to_be_hidden()
    expect(page.get_by_label("New password")).to_have_value(NEW_PASSWORD)  # nothing lost
    tab.allow_error("400 (BAD REQUEST)")
    tab.no_horizontal_scroll()
    tab.axe("security-wrong-password")
    tab.shot("security-wrong-password")
    page.reload()
    expect(page.locator("#app")).to_be_visible()


def test_sign_out_everywhere_tells_other_tabs_why_and_keeps_their_drafts(tab, size, browser, live):
    page = tab.page
    address = email("everywhere", size)
    tab.register(address)
    # Another tab of this browser, and another device, both with a message being written.
    other_tab = page.context.new_page()
    other_tab.goto(tab.base_url + "/")
    expect(other_tab.locator("#conn")).to_have_class(re.compile(r"\bup\b"))
    other_tab.fill("#prompt", "A long question I was still writing")
    device = browser.new_context(viewport=SIZES[size])
    phone = device.new_page()
    phone.goto(tab.base_url + "/")
    phone.fill("#auth-email", address)
    phone.fill("#auth-password", PASSWORD)
    phone.click("#auth-submit")
    expect(phone.locator("#conn")).to_have_class(re.compile(r"\bup\b"))
    phone.fill("#prompt", "Draft on my phone")

    page.goto(tab.base_url + "/account/security")
    page.get_by_role("button", name="Sign out everywhere").click()
    page.locator("dialog").get_by_role("button", name="Sign out everywhere").click()
    expect(page.locator("#auth-view")).to_be_visible()

    why = "“Sign out everywhere” was chosen on your account"
    expect(other_tab.locator("#auth-notice")).to_contain_text(why)
    expect(other_tab.locator("#auth-notice")).to_contain_text("Your unsent message is kept")
    other_tab.screenshot(path=str(SCREENSHOTS / f"signed-out-other-tab-{size}.png"))
    phone.click("#wallet")  # the other device learns at its next request
    expect(phone.locator("#auth-notice")).to_contain_text(why)
    phone.fill("#auth-email", address)
    phone.fill("#auth-password", PASSWORD)
    phone.click("#auth-submit")
    expect(phone.locator("#prompt")).to_have_value("Draft on my phone")
    phone.screenshot(path=str(SCREENSHOTS / f"signed-out-draft-back-{size}.png"))
    device.close()
    other_tab.close()
    tab.allow_error("401 (UNAUTHORIZED)")


def test_admins_see_failed_mail_and_send_it_again(tab, size, mailserver):
    page = tab.page
    uid = tab.register(email("admin", size))
    User.objects(id=uid).update_one(set__role="admin")
    bounced = email("bounced", size)
    mailserver.refuse.add(bounced)
    requests.post(
        f"{tab.base_url}/api/auth/register",
        json={"email": bounced, "password": PASSWORD, "name": "Bounced"},
        timeout=30,
    )
    wait_for(lambda: Mail.objects(to=bounced, status="failed").count() == 1, 30, 0.2, "a failure")
    page.goto(tab.base_url + "/admin/mail")
    expect(page.locator("#screen h1")).to_have_text("Admin console")
    row = page.locator("#mail-list tbody tr", has_text=bounced)
    expect(row).to_contain_text("failed")
    expect(row).to_contain_text("550")
    expect(row).to_contain_text("Confirm your email address")
    tab.no_horizontal_scroll()
    tab.axe("admin-mail")
    tab.shot("admin-mail")
    mailserver.refuse.clear()
    row.get_by_role("button", name=re.compile(r"^Send again")).click()
    expect(page.locator("#screen .notice.success")).to_contain_text(f"The mail to {bounced}")
    mailserver.wait_for(bounced, "verify_email")
