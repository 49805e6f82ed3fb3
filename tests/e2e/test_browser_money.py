"""Buying in a real browser: the wallet screen, Razorpay Checkout (a local stand-in of its script
and payment frame, tests/fakes/checkout.py, driving the local Razorpay) and verify-payment, on
the real stack. Every journey at desktop size and at 390×844."""

from __future__ import annotations

import itertools
import re
import uuid

import pytest
import requests
from bson import ObjectId
from playwright.sync_api import expect

from common.payments import plans
from common.payments.models import Order
from common.users.models import User
from common.wallet.models import LedgerEntry
from common.wallet.reconcile import reconcile
from tests.fakes.razorpay import signed_webhook, webhook_event

PAID_MODEL = "openai/gpt-4o"
FRAME = "iframe.razorpay-checkout-frame"
_n = itertools.count(1)
RUN = uuid.uuid4().hex[:8]  # the test database outlives a run


def email(tag: str, size: str) -> str:
    return f"money-{tag}-{size}-{next(_n)}-{RUN}@example.com"


@pytest.fixture(scope="module")
def stack_settings(base_settings, fake, razorpay, checkout):
    return base_settings.with_overrides(
        openrouter_base_url=fake.base_url,
        razorpay_key_id=razorpay.key_id,
        razorpay_key_secret=razorpay.key_secret,
        razorpay_webhook_secret=razorpay.webhook_secret,
        razorpay_base_url=razorpay.base_url,
        razorpay_checkout_url=checkout.script_url,
    )


@pytest.fixture(autouse=True)
def on_sale(live, razorpay, checkout):
    razorpay.reset()
    checkout.reset()
    plans.seed_defaults()


def entries_of(uid: str) -> list[LedgerEntry]:
    """The user's ledger entries (`$in`: nx-27017 misses equality on an ObjectId field)."""
    return list(LedgerEntry.objects(user__in=[ObjectId(uid)]))


def open_wallet(tab) -> None:
    page = tab.page
    page.click("#wallet")
    expect(page).to_have_url(re.compile(r"/wallet$"))
    expect(page.locator("#screen h1")).to_have_text("Wallet")
    expect(page.locator("[data-plan='pro-monthly'] button.buy")).to_be_enabled()


def checkout_frame(page):
    """The open Checkout frame, once its script listens: its buttons are on screen before
    frame.js runs, and a click before that is lost."""
    expect(page.locator(FRAME)).to_be_visible()
    frame = page.frame_locator(FRAME)
    expect(frame.locator("html[data-ready='true']")).to_have_count(1)
    return frame


def test_buy_a_plan_end_to_end_shows_the_new_balance_and_plan(tab, razorpay, checkout, size):
    page = tab.page
    uid = tab.register(email("buy", size))
    open_wallet(tab)
    expect(page.locator("#wallet-total")).to_have_text("10,000")
    expect(page.locator("#wallet-free")).to_have_text("10,000")
    expect(page.locator("#wallet-purchased")).to_have_text("0")
    expect(page.locator("#wallet-plan-name")).to_have_text("free")
    pro = page.locator("[data-plan='pro-monthly']")
    expect(pro).to_contain_text("₹499.00")
    expect(pro).to_contain_text("500,000 tokens")
    expect(pro).to_contain_text("1,000 requests a day")
    tab.no_horizontal_scroll()
    tab.axe("wallet")
    tab.shot("wallet")

    pro.locator("button.buy").click()
    frame = checkout_frame(page)
    expect(frame.locator("#amount")).to_have_text("₹499.00")
    tab.shot("wallet-checkout")
    opened = checkout.opened[-1]
    assert opened["amount"] == "49900" and opened["key"] == razorpay.key_id
    frame.get_by_role("button", name="Pay ₹499.00").click()

    expect(page.locator("#wallet-message")).to_contain_text("Payment received")
    expect(page.locator(FRAME)).to_have_count(0)
    expect(page.locator("#wallet-total")).to_have_text("510,000")
    expect(page.locator("#wallet-purchased")).to_have_text("500,000")
    expect(page.locator("#wallet-plan-name")).to_have_text("pro")
    expect(page.locator("#wallet")).to_have_text("510,000 tokens")
    expect(page.locator("#wallet-plan")).to_contain_text("until")
    row = page.locator("#payments-body tbody tr").first
    expect(row).to_contain_text("Pro")
    expect(row).to_contain_text("paid")
    # The plan bought is marked as the user's; buying it again adds days.
    expect(pro.locator(".badge-current")).to_have_text("Your plan")
    expect(pro.locator("button.buy")).to_have_text("Add 30 days of Pro")
    tab.no_horizontal_scroll()
    tab.axe("wallet-paid")
    tab.shot("wallet-paid")
    # A human receipt number that opens the printable receipt.
    link = row.locator("a.receipt-link")
    expect(link).to_have_text(re.compile(r"^AP-\d{8}-[0-9A-F]{6}$"))
    number = link.inner_text()
    link.click()
    expect(page).to_have_url(re.compile(r"/receipt/[0-9a-f]{24}$"))
    doc = page.locator("article.receipt")
    expect(doc).to_contain_text(number)
    expect(doc).to_contain_text("₹499.00")
    expect(doc).to_contain_text("Pro")
    tab.no_horizontal_scroll()
    tab.shot("receipt-numbered")
    page.get_by_role("link", name="Back to the wallet").click()
    expect(page.locator("#wallet-total")).to_have_text("510,000")

    # What the server holds agrees: one order paid, one ledger entry for it, the books balance.
    (payment_id,) = razorpay.payments
    order = Order.objects.get(razorpayPaymentId=payment_id)
    assert LedgerEntry.objects(key=f"rzp-{payment_id}").count() == 1
    user = User.objects.get(id=uid)
    assert (user.tokens.balance, user.subscription.plan) == (510_000, "pro")
    assert (order.status, str(order.userId)) == ("paid", uid)
    assert reconcile() == []

    # A reload reads the same from the server.
    page.reload()
    expect(page.locator("#wallet-total")).to_have_text("510,000")
    expect(page.locator("#payments-body tbody tr")).to_have_count(1)


def test_a_failed_and_a_cancelled_checkout_change_nothing(tab, razorpay, size):
    page = tab.page
    uid = tab.register(email("fail", size))
    open_wallet(tab)
    pack = page.locator("[data-plan='tokens-50k']")
    pack.locator("button.buy").click()
    frame = checkout_frame(page)
    frame.get_by_role("button", name="Decline (test)").click()
    expect(page.locator("#wallet-message")).to_contain_text("payment failed")
    expect(page.locator("#wallet-message")).to_contain_text("Nothing was charged")
    expect(frame.locator("#error")).to_contain_text("declined")
    frame.get_by_role("button", name="Close checkout").click()
    expect(page.locator(FRAME)).to_have_count(0)
    expect(page.locator("#wallet-message")).to_contain_text("declined by your bank")
    expect(page.locator("#wallet-total")).to_have_text("10,000")
    tab.shot("wallet-failed")

    pack.locator("button.buy").click()
    frame = checkout_frame(page)
    # The frame's buttons work once its script has run (it writes the amount on "Pay" first).
    expect(frame.locator("#pay")).to_contain_text("Pay ₹")
    frame.get_by_role("button", name="Close checkout").click()
    expect(page.locator("#wallet-message")).to_have_text("Checkout closed. Nothing was charged.")
    expect(page.locator("#wallet-total")).to_have_text("10,000")
    expect(page.locator("#wallet")).to_have_text("10,000 tokens")
    expect(pack.locator("button.buy")).to_be_enabled()
    rows = page.locator("#payments-body tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("abandoned — nothing charged")
    expect(rows.first.locator("a.receipt-link")).to_have_count(0)
    tab.axe("wallet-failed")
    tab.no_horizontal_scroll()

    user = User.objects.get(id=uid)
    assert (user.tokens.balance, user.tokens.purchasedTokens, user.subscription.plan) == (
        10_000,
        0,
        "free",
    )
    assert not any(p["status"] == "captured" for p in razorpay.payments.values())
    assert [e.kind for e in entries_of(uid)] == ["grant"]


def test_a_webhook_crediting_before_verify_is_shown_once(tab, live, razorpay, checkout, size):
    page = tab.page
    uid = tab.register(email("race", size))
    checkout.webhook_first = live.base_url
    open_wallet(tab)
    page.locator("[data-plan='tokens-50k'] button.buy").click()
    checkout_frame(page).get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(page.locator("#wallet-message")).to_contain_text("Payment received")
    expect(page.locator("#wallet-total")).to_have_text("60,000")
    expect(page.locator("#wallet")).to_have_text("60,000 tokens")
    page.reload()
    expect(page.locator("#wallet-total")).to_have_text("60,000")
    user = User.objects.get(id=uid)
    assert user.tokens.balance == 60_000
    (payment_id,) = razorpay.payments
    assert sorted(e.key for e in entries_of(uid)) == [f"grant-{uid}", f"rzp-{payment_id}"]
    assert reconcile() == []


def test_refusals_link_to_the_plan_that_helps(tab, size):
    page = tab.page
    tab.register(email("paywall", size))
    page.locator("#model-chips .chip-remove").first.click()
    page.fill("#model-search", "gpt-4o")
    page.locator(f"#model-list li[data-model-id='{PAID_MODEL}']").click()
    tab.send("Hello paid model")
    error = page.locator("#send-error")
    expect(error).to_be_visible()
    error.locator("button", has_text="See plans").click()
    expect(page).to_have_url(re.compile(r"/wallet\?plan=pro-monthly$"))
    suggested = page.locator("article.offer.recommended")
    expect(suggested).to_have_count(1)
    expect(suggested).to_have_attribute("data-plan", "pro-monthly")
    tab.shot("wallet-suggested")
    page.go_back()
    expect(page.locator("#prompt")).to_have_value("Hello paid model")


def test_a_refund_shows_in_the_payment_history(tab, live, razorpay, size):
    page = tab.page
    uid = tab.register(email("refund", size))
    open_wallet(tab)
    page.locator("[data-plan='tokens-50k'] button.buy").click()
    checkout_frame(page).get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(page.locator("#wallet-total")).to_have_text("60,000")
    (payment_id,) = razorpay.payments
    refund = razorpay.refund(payment_id, 4_950)  # half of ₹99.00
    event = webhook_event("refund.processed", refund=refund, payment=razorpay.payment(payment_id))
    body, headers = signed_webhook(event, razorpay.webhook_secret)
    res = requests.post(
        f"{live.base_url}/api/plans/webhook", data=body, headers=headers, timeout=30
    )
    assert res.status_code == 200, res.text
    page.reload()
    row = page.locator("#payments-body tbody tr").first
    expect(row).to_contain_text("partly refunded")
    expect(row.locator(".refunds")).to_contain_text("₹49.50 (25,000 tokens)")
    expect(page.locator("#wallet-total")).to_have_text("35,000")
    tab.shot("wallet-refund")
    assert User.objects.get(id=uid).tokens.balance == 35_000
    assert reconcile() == []
