"""The prompt estimate of images (OpenAI's documented tile rule) and which URLs pass."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from common.conversations.images import image_tokens, tiles, url_problem
from common.conversations.tokens import estimate_prompt


def data_url(width: int, height: int, kind: str = "PNG") -> str:
    out = io.BytesIO()
    Image.new("RGB", (width, height)).save(out, kind)
    return f"data:image/{kind.lower()};base64," + base64.b64encode(out.getvalue()).decode()


@pytest.mark.parametrize(
    ("size", "expected"),
    [((1024, 1024), 4), ((2048, 4096), 6), ((768, 2048), 8), ((100, 100), 1), ((4000, 1000), 4)],
)
def test_tiles_follow_openais_examples(size, expected):
    assert tiles(*size) == expected


def test_image_tokens_by_detail_and_size():
    assert image_tokens(data_url(1024, 1024), "high") == 85 + 170 * 4  # OpenAI's 765
    assert image_tokens(data_url(1024, 1024, "JPEG"), None) == 765  # auto counts as high
    assert image_tokens(data_url(4096, 4096), "low") == 85
    assert image_tokens("https://example.com/a.png", "auto") == 85 + 170 * 8  # size unknown


def test_urls_that_pass_and_those_that_do_not():
    assert url_problem("https://example.com/a.png") is None
    assert url_problem(data_url(2, 2)) is None
    assert "https" in url_problem("http://example.com/a.png")
    assert url_problem("data:text/plain;base64,aGk=") is not None
    assert url_problem("data:image/png;base64,aGVsbG8=") is None  # unreadable: passed on
    assert image_tokens("data:image/png;base64,aGVsbG8=", "high") == 85 + 170 * 8


def test_the_prompt_estimate_counts_text_images_and_tool_calls():
    turns = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "abcd"},
                {"type": "image_url", "image_url": {"url": data_url(8, 8)}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
    ]
    calls = len('{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}')
    assert estimate_prompt(turns) == (1 + 255 + 4) + ((calls + 3) // 4 + 4) + 2
