"""A person attaches an image to a message in a real browser (Debian's chromium, Playwright)
against the real stack, for a model that takes images; at desktop size and at 390x844."""

from __future__ import annotations

import io
import itertools
import re

from PIL import Image, ImageDraw
from playwright.sync_api import expect

from common.conversations.models import ChatMessage
from tests.fakes.answers import HIGH_DETAIL_TOKENS

VISION = "google/gemini-2.0-flash-exp:free"  # lists image input (tests/fakes/catalog_data.py)
_n = itertools.count(1)


def picture() -> bytes:
    """A 1600x1000 PNG (a red square on a sky): the browser scales it down before sending."""
    image = Image.new("RGB", (1600, 1000), (150, 200, 235))
    ImageDraw.Draw(image).rectangle((500, 250, 1100, 850), fill=(200, 40, 40))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_attach_an_image_for_a_model_that_takes_images(tab, fake, size):
    page = tab.page
    fake.scenario(VISION, deltas=["A", " red", " square."], interval=0.02)
    tab.register(f"image-{size}-{next(_n)}@example.com")
    attach = page.locator("#attach")
    expect(attach).to_be_disabled()  # the default model takes no images
    expect(attach).to_have_attribute("title", "The picked models do not take images")
    page.fill("#model-search", "gemini 2.0 flash")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.locator("#model-chips .chip-remove").first.click()
    expect(page.locator("#model-chips .chip")).to_have_count(1)
    expect(page.locator("#model-chips .chip")).to_have_attribute("data-model-id", VISION)
    expect(attach).to_be_enabled()
    page.set_input_files(
        "#attach-input",
        files=[{"name": "square.png", "mimeType": "image/png", "buffer": picture()}],
    )
    expect(page.locator("#attachments img")).to_have_count(1)
    page.fill("#prompt", "What is in this picture?")
    # The hold counts the image: 1024x640 after scaling is 2 x 2 tiles, 85 + 4 x 170 = 765
    # tokens, with the text (6 and 6 of overhead) and 1,024 for the answer: 1,801 at 1,000 per 1K.
    expect(page.locator("#estimate")).to_contain_text("1,801 tokens")
    expect(page.locator("#toast")).to_be_hidden(timeout=10_000)
    tab.no_horizontal_scroll()
    tab.shot("image-attached")
    tab.axe("image-attached")
    page.press("#prompt", "Enter")
    answer = page.locator(".answer").first
    expect(answer).to_have_class(re.compile(r"\bdone\b"), timeout=30_000)
    expect(answer.locator(".text")).to_have_text("A red square.")
    expect(page.locator(".user-images img")).to_have_count(1)
    expect(page.locator("#attachments")).to_be_hidden()  # sent: the composer is empty again
    box = page.locator(".user-images img").bounding_box()
    assert box["width"] > 100 and box["height"] > 60  # shown at a readable size
    sent = fake.stats()["last_requests"][-1]
    [text, image] = sent["messages"][-1]["content"]
    assert text == {"type": "text", "text": "What is in this picture?"}
    assert image["image_url"]["url"].startswith("data:image/jpeg;base64,")  # scaled as JPEG
    assert len(image["image_url"]["url"]) < 200_000
    stored = ChatMessage.objects(role="assistant").order_by("-createdAt").first()
    assert stored.modelId == VISION and stored.receipt["promptTokens"] > HIGH_DETAIL_TOKENS
    tab.no_horizontal_scroll()
    tab.shot("image-sent")
    tab.axe("image-sent")
    page.reload()  # the stored conversation shows the image again
    expect(page.locator(".user-images img")).to_have_count(1)
    expect(page.locator(".answer .text")).to_have_text("A red square.")
