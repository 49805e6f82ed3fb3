"""Images in a conversation: what an `image_url` part may be, and what it costs in prompt tokens.

A part is `{"type": "image_url", "image_url": {"url", "detail"?}}` with an `https:` URL or a
`data:image/<png|jpeg|gif|webp>;base64,...` URL (OpenAI's shape, passed on to the provider as
it is). Nothing here fetches a URL.

The prompt estimate counts an image by OpenAI's documented rule for its vision models (GPT-4o
and GPT-4.1, "Calculating costs" in OpenAI's vision guide): `detail: "low"` costs 85 tokens;
`high` or `auto` scales the image to fit 2048 x 2048, then its shortest side to 768, and costs
85 + 170 per 512-px tile. The size of a `data:` image is read from its header (`imagesize`);
an `https:` image's size is unknown here, so it is counted at the rule's most, 8 tiles (1,445
tokens). The estimate only sizes the hold: the charge is the usage the provider reports.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import re

import imagesize

# What may be passed on as an image URL (the request schemas use it as their `pattern`).
URL_PATTERN = r"^(https://|data:image/(png|jpeg|jpg|gif|webp);base64,)"
BASE_TOKENS = 85
TILE_TOKENS = 170
TILE = 512
MAX_TILES = 8  # the shortest side is at most 768 px (2 tiles), the longest at most 2048 (4)
DATA_URL = re.compile(r"^data:image/(png|jpeg|jpg|gif|webp);base64,")
DETAILS = ("auto", "low", "high")


def url_problem(url: str) -> str | None:
    """Why `url` cannot be passed on as an image (None when it can). An image we cannot read
    is still passed on (the provider judges it); its estimate is the rule's most."""
    if re.match(URL_PATTERN, url):
        return None
    return "must be an https: URL or a data:image/(png|jpeg|gif|webp);base64,... URL"


def image_size(url: str) -> tuple[int, int] | None:
    """Width and height of a `data:` image from its header; None if unknown or unreadable."""
    match = DATA_URL.match(url)
    if not match:
        return None
    try:
        head = base64.b64decode(url[match.end() :], validate=True)
    except (binascii.Error, ValueError):
        return None
    width, height = imagesize.get(io.BytesIO(head))
    return (width, height) if width > 0 and height > 0 else None


def image_tokens(url: str, detail: str | None = None) -> int:
    """The prompt tokens of one image by OpenAI's rule (see the module docstring)."""
    if detail == "low":
        return BASE_TOKENS
    size = image_size(url) if url.startswith("data:") else None
    return BASE_TOKENS + TILE_TOKENS * (tiles(*size) if size else MAX_TILES)


def tiles(width: int, height: int) -> int:
    """512-px tiles of an image after fitting 2048 x 2048, then its shortest side to 768."""
    scale = min(1.0, 2048 / max(width, height))
    width, height = width * scale, height * scale
    scale = min(1.0, 768 / min(width, height))
    width, height = width * scale, height * scale
    return math.ceil(width / TILE) * math.ceil(height / TILE)
