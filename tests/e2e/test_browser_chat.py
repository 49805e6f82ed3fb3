"""A person in a real browser (Debian's chromium, driven by Playwright) against the real stack:
gunicorn, a Celery worker process, Redis, nx-27017 and a local OpenRouter stand-in. Every
journey runs at desktop size and at 390×844 (the `size` fixture); see conftest.py."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

from playwright.sync_api import expect

from common.conversations.models import ChatMessage
from common.moderation import terms
from common.payments import plans
from common.sending.validation import MAX_MODELS
from tests.support.chatkit import set_balance

FREE_MODEL = "meta-llama/llama-3.1-405b-instruct:free"
OTHER_MODEL = "deepseek/deepseek-r1:free"
THIRD_MODEL = "mistralai/mistral-7b-instruct:free"
PAID_MODEL = "openai/gpt-4o"
_n = itertools.count(1)


def email(tag: str, size: str) -> str:
    return f"{tag}-{size}-{next(_n)}@example.com"


def done(page, nth: int = 0):
    answer = page.locator(".answer").nth(nth)
    expect(answer).to_have_class(re.compile(r"\bdone\b"), timeout=30_000)
    return answer


RICH = [
    "Here is a table:\n\n| Pasta | Minutes |\n|---|---|\n| Spaghetti | 9 |\n| Penne | 11 |\n\n",
    "Tasks:\n\n- [x] boil water\n- [ ] add salt\n\n",
    "```python\ndef cook(minutes):\n    return f'al dente after {minutes}'\n```\n\n",
    "Energy: $E = mc^2$ and\n\n$$\\int_0^1 x^2\\,dx = \\frac{1}{3}$$\n\n",
    '<script>window.__pwned = 1</script> <img src=x onerror="window.__pwned=2">\n\n',
    "[a trap](javascript:window.__pwned=3) and [the docs](https://example.com/docs)\n",
]


def test_welcome_screen_and_accessibility_of_the_main_screens(tab, size):
    page = tab.page
    expect(page.locator("#auth-title")).to_have_text("Log in")
    tab.axe("login")
    tab.shot("login")
    tab.register(email("welcome", size))
    welcome = page.locator("#welcome")
    expect(welcome).to_contain_text("free plan")
    expect(welcome).to_contain_text("10,000 tokens")
    expect(welcome.locator("button.example")).to_have_count(4)
    expect(page.locator("#model-limit")).to_have_text(f"1 of {MAX_MODELS} models")
    tab.no_horizontal_scroll()
    tab.axe("welcome")
    tab.shot("welcome")
    welcome.locator("button.example").nth(2).click()
    expect(page.locator("#prompt")).to_have_value(re.compile("quadratic formula"))
    expect(page.locator("#estimate")).to_contain_text("tokens")
    # The theme toggle flips light/dark (system by default) and the audit still passes.
    before = page.evaluate("document.documentElement.dataset.theme")
    page.click("#theme")
    after = page.evaluate("document.documentElement.dataset.theme")
    assert {before, after} == {"light", "dark"}
    tab.axe(f"welcome-{after}")
    tab.shot(f"welcome-{after}")
    assert page.evaluate("document.querySelector('link[rel=icon]').href").endswith("favicon.svg")


def test_markdown_code_and_math_render_and_nothing_from_the_answer_runs(tab, fake, size):
    page = tab.page
    fake.scenario(FREE_MODEL, deltas=RICH, interval=0.02)
    tab.register(email("render", size))
    tab.send("Show me everything")
    answer = done(page)
    text = answer.locator(".text")
    expect(text.locator("table tr")).to_have_count(3)
    expect(text.locator("li.task-item input[type=checkbox]")).to_have_count(2)
    expect(text.locator("input[type=checkbox]").first).to_be_checked()
    code = text.locator(".code-block code.hljs")
    expect(code).to_contain_text("def cook(minutes):")
    expect(code.locator(".hljs-keyword").first).to_have_text("def")
    font = code.evaluate("el => getComputedStyle(el).fontFamily")
    assert "mono" in font.lower(), font
    expect(text.locator(".katex")).to_have_count(2)
    expect(text.locator(".math-block .katex-display")).to_have_count(1)
    # Nothing the model wrote runs: no script element, no handler, no javascript: link.
    assert page.evaluate("window.__pwned") is None
    assert text.locator("script, img, [onerror]").count() == 0
    expect(text).to_contain_text("<script>window.__pwned = 1</script>")
    trap = text.locator("a", has_text="a trap")
    assert trap.count() == 0 or trap.get_attribute("href") is None
    docs = text.locator("a", has_text="the docs")
    expect(docs).to_have_attribute("href", "https://example.com/docs")
    expect(docs).to_have_attribute("target", "_blank")
    expect(docs).to_have_attribute("rel", "noopener noreferrer")
    # A copy button per code block and per answer.
    text.locator("button.copy-code").click()
    assert page.evaluate("navigator.clipboard.readText()").startswith("def cook(minutes):")
    answer.locator("[data-act=copy]").click()
    assert "| Pasta | Minutes |" in page.evaluate("navigator.clipboard.readText()")
    expect(answer.locator(".stats")).to_contain_text(re.compile(r"\d+ tokens"))
    tab.no_horizontal_scroll()
    tab.axe("conversation")
    tab.shot("rendered-answer")
    page.click("#theme")
    tab.axe("conversation-other-theme")
    tab.shot("rendered-answer-other-theme")


def test_a_long_answer_renders_incrementally_one_card_at_a_time(tab, fake, size):
    """While an answer streams, earlier answers are not re-rendered (their nodes stay put)."""
    page = tab.page
    fake.scenario(FREE_MODEL, deltas=["First ", "answer."], interval=0.01)
    tab.register(email("incremental", size))
    tab.send("one")
    done(page)
    page.evaluate("window.__first = document.querySelector('.answer .text').firstElementChild")
    fake.scenario(FREE_MODEL, deltas=[f"word{i} " for i in range(60)], interval=0.03)
    tab.send("two")
    second = page.locator(".answer").nth(1)
    expect(second).to_have_class(re.compile(r"\bstreaming\b"))
    expect(second.locator(".text")).to_contain_text("word5")
    assert page.evaluate(
        "window.__first === document.querySelector('.answer .text').firstElementChild"
    )
    done(page, 1)
    expect(second.locator(".text")).to_contain_text("word59")


def test_reload_mid_stream_resumes_in_the_same_conversation_without_gap_or_duplicate(
    tab, fake, size
):
    page = tab.page
    words = [f"w{i:02d} " for i in range(40)]
    fake.scenario(FREE_MODEL, deltas=words, interval=0.12)
    tab.register(email("resume", size))
    tab.send("Count slowly")
    expect(page.locator(".answer .text")).to_contain_text("w03")
    expect(page).to_have_url(re.compile(r"/c/chat_"))
    url = page.url
    page.reload()
    expect(page).to_have_url(url)
    answer = done(page)
    assert answer.locator(".text").inner_text().split() == [w.strip() for w in words]
    expect(page.locator(".user-msg")).to_have_text("Count slowly")
    # The resumed answer shows its real usage, not "0 tokens".
    expect(answer.locator(".stats")).not_to_contain_text(" 0 tokens")
    expect(answer.locator(".stats")).to_contain_text(re.compile(r"TTFT \d"))  # the server's
    tab.shot("resumed")


def test_back_forward_and_bookmarks(tab, fake, size):
    page = tab.page
    fake.scenario(FREE_MODEL, deltas=["Answer A"], interval=0.01)
    tab.register(email("history", size))
    tab.send("Chat A")
    done(page)
    url_a = page.url
    page.click("#new-chat") if size == "desktop" else (tab.open_drawer(), page.click("#new-chat"))
    expect(page).to_have_url(tab.base_url + "/")
    fake.scenario(FREE_MODEL, deltas=["Answer B"], interval=0.01)
    tab.send("Chat B")
    done(page)
    url_b = page.url
    assert url_a != url_b
    page.go_back()
    page.go_back()
    expect(page).to_have_url(url_a)
    expect(page.locator(".user-msg")).to_have_text("Chat A")
    page.go_forward()
    page.go_forward()
    expect(page).to_have_url(url_b)
    expect(page.locator(".user-msg")).to_have_text("Chat B")
    tab.goto(url_a.removeprefix(tab.base_url))  # a bookmark
    expect(page.locator(".answer .text")).to_have_text("Answer A")
    tab.allow_error("404 (NOT FOUND) @ " + tab.base_url + "/api/chat/sessions/chat_0_doesnotexist")
    tab.goto("/c/chat_0_doesnotexist")
    expect(page.locator("#send-error")).to_contain_text("does not exist")
    expect(page).to_have_url(tab.base_url + "/")


def test_a_refused_send_keeps_the_text_and_offers_the_fix(tab, fake, size):
    page = tab.page
    uid = tab.register(email("refused", size))
    long_text = "A long pasted text. " * 1760  # 35,200 characters
    set_balance(uid, 300)
    page.reload()
    expect(page.locator("#wallet")).to_have_text("300 tokens")
    page.fill("#prompt", long_text)
    # Announced before the send fails.
    expect(page.locator("#low-balance")).to_contain_text("below what this send holds")
    page.press("#prompt", "Enter")
    error = page.locator("#send-error")
    expect(error).to_contain_text(re.compile("characters|tokens"))
    expect(page.locator("#prompt")).to_have_value(long_text)
    expect(page.locator(".turn")).to_have_count(0)
    page.fill("#prompt", "Short question")
    page.press("#prompt", "Enter")
    expect(error).to_contain_text("Not enough tokens")
    expect(page.locator("#prompt")).to_have_value("Short question")
    error.locator("button", has_text="Lower max tokens").click()
    lowered = int(page.input_value("#max-tokens"))
    assert 1 <= lowered < 1024
    tab.shot("refused")
    fake.scenario(FREE_MODEL, deltas=["fits"], interval=0.01)
    page.press("#prompt", "Enter")
    expect(done(page).locator(".text")).to_have_text("fits")
    expect(page.locator("#prompt")).to_have_value("")


def test_paid_model_refusal_offers_upgrade_and_another_model(tab, size):
    page = tab.page
    plans.seed_defaults()  # what the lock names: the cheapest plan that unlocks paid models
    tab.register(email("paywall", size))
    page.locator("#model-chips .chip-remove").first.click()
    page.fill("#model-search", "gpt-4o")
    option = page.locator(f"#model-list li[data-model-id='{PAID_MODEL}']")
    # Locked on the free plan, naming the plan that unlocks it, and said again once chosen.
    expect(option).to_contain_text("needs Pro")
    expect(option).to_contain_text("OpenRouter")
    option.click()
    expect(page.locator("#model-search")).to_have_value("")
    expect(page.locator("#model-locked")).to_contain_text("needs the Pro plan")
    tab.send("Hello paid model")
    error = page.locator("#send-error")
    expect(error).to_contain_text("plan")
    expect(page.locator("#prompt")).to_have_value("Hello paid model")
    expect(page.locator("#wallet")).to_have_text("10,000 tokens")
    error.locator("button", has_text="See plans").click()
    expect(page).to_have_url(re.compile(r"/wallet"))
    expect(page.locator("#screen h1")).to_have_text("Wallet")
    page.go_back()
    expect(page.locator("#prompt")).to_be_visible()
    error.locator("button", has_text="Pick another model").click()
    expect(page.locator("#model-search")).to_be_focused()


def test_a_blocked_term_is_explained_and_offers_no_retry(tab, fake, size):
    page = tab.page
    terms.add_term(f"forbidden{size}", "e2e")
    try:
        tab.register(email("blocked", size))
        tab.send(f"Tell me about Forbidden{size} things")
        error = page.locator("#send-error")
        expect(error).to_contain_text(f"contains “Forbidden{size}”")
        expect(error).to_contain_text("Rephrase it without that term")
        expect(error.locator("button")).to_have_count(0)  # a Retry could never pass
        expect(page.locator("#prompt")).to_have_value(f"Tell me about Forbidden{size} things")
        tab.axe("blocked-term")
        tab.shot("blocked-term")
    finally:
        terms.remove_term(f"forbidden{size}")


def test_logout_then_another_user_sees_nothing_of_the_first(tab, fake, size):
    page = tab.page
    fake.scenario(FREE_MODEL, deltas=["Private answer"], interval=0.01)
    first = email("first", size)
    tab.register(first)
    page.fill("#model-search", "deepseek")
    page.keyboard.press("Enter")
    tab.send("My secret plans")
    done(page)
    page.fill("#prompt", "half-typed draft")
    page.click("#logout")
    expect(page.locator("#auth-view")).to_be_visible()
    expect(page).to_have_url(tab.base_url + "/")
    assert page.evaluate("Object.keys(localStorage).filter(k => k !== 'aipasta.theme')") == []
    tab.register(email("second", size), name="Second Person")
    expect(page.locator(".turn")).to_have_count(0)
    expect(page.locator("#prompt")).to_have_value("")
    expect(page.locator("#model-chips .chip")).to_have_count(1)
    tab.open_drawer()
    expect(page.locator("#sessions")).to_contain_text("No conversations yet")
    expect(page.locator("body")).not_to_contain_text("My secret plans")
    tab.close_drawer()
    fake.scenario(FREE_MODEL, deltas=["Fresh"], interval=0.01)
    tab.send("Hello from the second user")
    expect(done(page).locator(".text")).to_have_text("Fresh")


def test_sidebar_search_rename_pin_export_delete(tab, fake, size):
    page = tab.page
    fake.scenario(FREE_MODEL, deltas=["Basil is the herb."], interval=0.01)
    tab.register(email("sidebar", size))
    tab.send("Which herb goes with tomato?")
    done(page)
    fake.scenario(FREE_MODEL, deltas=["Other."], interval=0.01)
    page.click("#new-chat") if size == "desktop" else (tab.open_drawer(), page.click("#new-chat"))
    tab.send("Something unrelated")
    done(page)
    tab.open_drawer()
    page.fill("#search", "basil")
    results = page.locator("#sessions li.session")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("Basil is the herb")
    tab.shot("search")
    results.first.locator("a.session-link").click()
    expect(page.locator(".user-msg")).to_have_text("Which herb goes with tomato?")
    tab.open_drawer()
    page.fill("#search", "")
    items = page.locator("#sessions li.session")
    expect(items).to_have_count(2)
    herb = items.filter(has_text="Which herb")
    herb.locator("button.session-more").click()
    herb.locator("button[data-act=rename]").click()
    page.fill("#dialog input", "Herbs")
    page.keyboard.press("Enter")
    expect(page.locator("#sessions")).to_contain_text("Herbs")
    herb = page.locator("#sessions li.session", has_text="Herbs")
    herb.locator("button.session-more").click()
    herb.locator("button[data-act=pin]").click()
    expect(page.locator("#sessions section").first).to_contain_text("Pinned")
    expect(page.locator("#sessions section").first).to_contain_text("Herbs")
    herb = page.locator("#sessions li.session", has_text="Herbs")
    for act, suffix in (("export-md", ".md"), ("export-json", ".json")):
        herb.locator("button.session-more").click()
        with page.expect_download() as info:
            herb.locator(f"button[data-act={act}]").click()
        download = info.value
        assert download.suggested_filename == "Herbs" + suffix
        body = Path(download.path()).read_text(encoding="utf-8")
        assert "Basil is the herb." in body
        if suffix == ".json":
            assert json.loads(body)["session"]["title"] == "Herbs"
    tab.shot("sidebar")
    other = page.locator("#sessions li.session", has_text="Something unrelated")
    other.locator("button.session-more").click()
    other.locator("button[data-act=delete]").click()
    expect(page.locator("#dialog")).to_contain_text("cannot be undone")
    page.locator("#dialog button", has_text="Cancel").click()
    expect(page.locator("#sessions li.session")).to_have_count(2)
    other.locator("button.session-more").click()
    other.locator("button[data-act=delete]").click()
    page.locator("#dialog button", has_text="Delete").click()
    expect(page.locator("#sessions li.session")).to_have_count(1)


def test_sidebar_scrolls_past_fifty(tab, live, size):
    page = tab.page
    tab.register(email("many", size))
    token = page.evaluate("localStorage.getItem('aipasta.token')")
    for i in range(62):
        page.request.post(
            tab.base_url + "/api/chat/sessions",
            data={"title": f"Session {i:02d}"},
            headers={"Authorization": f"Bearer {token}"},
        )
    page.reload()
    tab.open_drawer()
    items = page.locator("#sessions li.session")
    expect(items.first).to_be_visible()
    expect(items).to_have_count(50)  # the first page
    for _ in range(20):
        if items.count() >= 62:
            break
        page.evaluate("document.getElementById('sidebar').scrollTop = 1e9")
        page.wait_for_timeout(250)
    expect(items).to_have_count(62)
    expect(page.locator("#sessions")).to_contain_text("Session 00")


def test_edit_and_regenerate_keep_both_answers(tab, fake, size):
    page = tab.page
    fake.scenario(FREE_MODEL, deltas=["First take"], interval=0.01)
    tab.register(email("edit", size))
    tab.send("Name a pasta")
    done(page)
    fake.scenario(FREE_MODEL, deltas=["Second take"], interval=0.01)
    page.locator(".answer [data-act=regenerate]").click()
    card = page.locator(".answer")
    expect(card).to_have_count(1)  # the new answer replaces the view, not the old answer
    expect(card.locator(".alt-pos")).to_have_text("2 / 2")
    expect(done(page).locator(".text")).to_have_text("Second take")
    card.locator("[data-act=prev]").click()
    expect(card.locator(".alt-pos")).to_have_text("1 / 2")
    expect(card.locator(".text")).to_have_text("First take")
    # Both survive a reload, and so does the answer shown (the branch is in the address).
    expect(page).to_have_url(re.compile(r"\?leaf="))
    page.reload()
    expect(page.locator(".answer .alt-pos")).to_have_text("1 / 2")
    expect(page.locator(".answer .text")).to_have_text("First take")


def test_an_edit_is_a_branch_that_sends_and_charges_only_its_history(tab, fake, size):
    """Editing the second question sends the first turn and the edited text, not the original
    second turn; the original stays one click away ("‹ 1 / 2 ›"), and a reload keeps the
    branch shown."""
    page = tab.page
    fake.scenario(FREE_MODEL, deltas=["Penne."], interval=0.01)
    tab.register(email("branch", size))
    tab.send("Name a pasta")
    done(page)
    long_answer = "Tomato, basil and garlic, slowly. " * 30
    fake.scenario(FREE_MODEL, deltas=[long_answer], interval=0.01)
    tab.send("Which sauce goes with it, and why, in great detail please?")
    done(page, 1)
    tab.shot("branch-before-edit")
    fake.scenario(FREE_MODEL, deltas=["Pesto."], interval=0.01)
    page.locator(".turn").nth(1).locator("[data-act=edit]").click()
    page.fill(".edit-area", "Which sauce, in one word?")
    page.press(".edit-area", "Enter")
    second = page.locator(".turn").nth(1)
    expect(second.locator(".user-msg")).to_have_text("Which sauce, in one word?")
    expect(second.locator(".edit-nav .alt-pos")).to_have_text("2 / 2")
    expect(page.locator(".user-msg")).to_have_count(2)
    expect(done(page, 1).locator(".text")).to_have_text("Pesto.")
    sent = fake.stats()["last_requests"][-1]["messages"]
    assert [m["content"] for m in sent] == ["Name a pasta", "Penne.", "Which sauce, in one word?"]
    # Charged for that branch alone: the fake counts a quarter of the characters it was sent.
    answer_id = second.locator(".answer").get_attribute("data-message-id")
    stored = ChatMessage.objects(id=answer_id).first()
    prompt_chars = len(" ".join(m["content"] for m in sent))
    assert stored.usage.promptTokens == prompt_chars // 4 < len(long_answer) // 4
    tab.no_horizontal_scroll()
    tab.axe("edited-branch")
    tab.shot("branch-after-edit")
    # The original question and its answer are one click away, and stay after a reload.
    second.locator("[data-act=edit-prev]").click()
    expect(second.locator(".user-msg")).to_have_text(re.compile("great detail"))
    expect(second.locator(".edit-nav .alt-pos")).to_have_text("1 / 2")
    expect(second.locator(".answer .text")).to_contain_text("Tomato, basil")
    expect(page).to_have_url(re.compile(r"\?leaf="))
    page.reload()
    expect(page.locator(".turn").nth(1).locator(".user-msg")).to_have_text(re.compile("great"))
    tab.shot("branch-switched")
    # An export is of the branch shown: the original question, not the edit.
    tab.open_drawer()
    item = page.locator("#sessions li.session").first
    item.locator("button.session-more").click()
    with page.expect_download() as info:
        item.locator("button[data-act=export-json]").click()
    exported = json.loads(Path(info.value.path()).read_text(encoding="utf-8"))
    texts = [m["content"] for m in exported["messages"]]
    assert texts[0] == "Name a pasta" and "great detail" in texts[2], texts
    assert "Which sauce, in one word?" not in texts and exported["leafId"]
    item.locator("button.session-more").click()
    with page.expect_download() as info:
        item.locator("button[data-act=export-md]").click()
    markdown = Path(info.value.path()).read_text(encoding="utf-8")
    assert "great detail" in markdown and "in one word" not in markdown
    tab.close_drawer()
    # Another device (no leaf in the address) shows the same branch: the session keeps it.
    tab.goto(page.url.split("?")[0].removeprefix(tab.base_url))
    expect(page.locator(".turn").nth(1).locator(".edit-nav .alt-pos")).to_have_text("1 / 2")
    # The next question continues the branch shown.
    fake.scenario(FREE_MODEL, deltas=["Rigatoni."], interval=0.01)
    tab.send("And a shape?")
    done(page, 2)
    sent = [m["content"] for m in fake.stats()["last_requests"][-1]["messages"]]
    assert sent[:2] == ["Name a pasta", "Penne."] and sent[-1] == "And a shape?"
    assert "Which sauce, in one word?" not in sent


def test_compare_models_stop_one_and_continue_with_the_other(tab, fake, size):
    page = tab.page
    fake.scenario(FREE_MODEL, deltas=["Left", " answer"], interval=0.05)
    fake.scenario(OTHER_MODEL, deltas=["Slow"] + [" more"] * 200, interval=0.1)
    tab.register(email("compare", size))
    # Keyboard: arrows move, Enter picks (and does not submit), Esc closes.
    page.fill("#prompt", "Compare yourselves")
    page.fill("#model-search", "deepseek r1")
    expect(page.locator("#model-list li.option").first).to_contain_text("free")
    tab.shot("picker")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    expect(page.locator("#model-chips .chip")).to_have_count(2)
    expect(page.locator(".turn")).to_have_count(0)  # Enter in the search did not send
    page.keyboard.press("Escape")
    expect(page.locator("#model-list")).to_be_hidden()
    page.fill("#model-search", "zzzz-no-such-model")
    expect(page.locator("#model-list")).to_contain_text("No matches")
    page.fill("#model-search", "")
    expect(page.locator("#model-limit")).to_have_text(f"2 of {MAX_MODELS} models")
    page.click("#send")
    answers = page.locator(".answer")
    expect(answers).to_have_count(2)
    left = page.locator(f".answer[data-model-id='{FREE_MODEL}']")
    right = page.locator(f".answer[data-model-id='{OTHER_MODEL}']")
    expect(left.locator(".provider")).to_have_text("OpenRouter")
    expect(right).to_have_class(re.compile(r"\bstreaming\b"))
    right.locator("[data-act=stop]").click()
    expect(right).to_have_class(re.compile(r"\bcancelled\b"), timeout=30_000)
    expect(left).to_have_class(re.compile(r"\bdone\b"), timeout=30_000)
    expect(left.locator(".text")).to_have_text("Left answer")
    expect(left.locator(".stats")).to_contain_text(re.compile(r"TTFT \d"))
    expect(left.locator(".stats")).to_contain_text(re.compile(r"[\d.]+ tok/s"))
    expect(left.locator(".stats")).to_contain_text("cost")
    if size == "desktop":
        boxes = [answers.nth(i).bounding_box() for i in range(2)]
        assert abs(boxes[0]["y"] - boxes[1]["y"]) < 2 and boxes[0]["x"] < boxes[1]["x"]
    tab.no_horizontal_scroll()
    tab.shot("compare")
    left.locator("[data-act=continue]").click()
    expect(page.locator("#model-chips .chip")).to_have_count(1)
    expect(page.locator("#model-chips .chip")).to_have_attribute("data-model-id", FREE_MODEL)
    # Esc stops every answer in progress.
    fake.scenario(FREE_MODEL, deltas=["Going"] + [" on"] * 200, interval=0.1)
    tab.send("Keep going")
    third = page.locator(".answer").nth(2)
    expect(third).to_have_class(re.compile(r"\bstreaming\b"))
    page.keyboard.press("Escape")
    expect(third).to_have_class(re.compile(r"\bcancelled\b"), timeout=30_000)


def test_model_limit_is_the_servers_and_a_chat_remembers_its_models(tab, fake, size):
    page = tab.page
    tab.register(email("limit", size))
    for query in ("deepseek r1", "mistral 7b", "gemma 2 9b", "qwen 72b", "phi-3 mini"):
        page.fill("#model-search", query)
        page.keyboard.press("Enter")
    chips = page.locator("#model-chips .chip")
    expect(chips).to_have_count(MAX_MODELS)
    expect(page.locator("#model-limit")).to_have_text(f"{MAX_MODELS} of {MAX_MODELS} models")
    expect(page.locator("#toast")).to_contain_text(f"At most {MAX_MODELS} models")
    for _ in range(MAX_MODELS - 2):
        page.locator("#model-chips .chip-remove").last.click()
    expect(chips).to_have_count(2)
    fake.scenario("*", deltas=["ok"], interval=0.01)
    tab.send("Remember us")
    expect(page.locator(".answer.done")).to_have_count(2, timeout=30_000)
    remembered = chips.evaluate_all("cs => cs.map(c => c.dataset.modelId)")
    url = page.url
    page.click("#new-chat") if size == "desktop" else (tab.open_drawer(), page.click("#new-chat"))
    expect(chips).to_have_count(2)  # a new chat keeps the models (a comparison stays one)
    expect(page.locator(".turn")).to_have_count(0)
    tab.goto(url.removeprefix(tab.base_url))
    expect(page.locator(".answer")).to_have_count(2)
    expect(chips).to_have_count(2)
    assert chips.evaluate_all("cs => cs.map(c => c.dataset.modelId)") == remembered


def test_phone_layout_has_a_drawer_and_no_horizontal_scroll(tab, fake, size):
    page = tab.page
    fake.scenario(FREE_MODEL, deltas=["A" * 300 + " " + "`" + "x" * 200 + "`"], interval=0.01)
    tab.register(email("layout", size))
    tab.send("Wide content please")
    done(page)
    tab.no_horizontal_scroll()
    expect(page.locator("#send")).to_be_in_viewport()
    if size == "phone":
        expect(page.locator("#sidebar")).not_to_be_in_viewport()
        page.click("#menu")
        expect(page.locator("#sidebar")).to_be_in_viewport(ratio=1)
        page.wait_for_timeout(300)  # the slide-in
        tab.shot("drawer")
        page.keyboard.press("Escape")
        expect(page.locator("#sidebar")).not_to_be_in_viewport()
        page.set_viewport_size({"width": 360, "height": 740})
        tab.no_horizontal_scroll()
        expect(page.locator("#send")).to_be_in_viewport()
        tab.axe("phone-360")
        tab.shot("narrow-360")
    else:
        expect(page.locator("#sidebar")).to_be_in_viewport()
    # Keyboard: Tab reaches the message box, and focus is visible there.
    page.focus("#prompt")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
