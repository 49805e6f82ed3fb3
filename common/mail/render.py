"""Mail bodies from templates: `<kind>.txt` (its first line is the subject) and `<kind>.html`.

Every template gets `product` (APP_TITLE) and `base_url` (APP_BASE_URL) besides its own context.
HTML is autoescaped; the text body is not (it is plain text).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from config import get_settings

TEMPLATES = Path(__file__).resolve().parent / "templates"
SUBJECT_PREFIX = "Subject: "

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,  # a missing value is a bug, not an empty space in a mail
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render(kind: str, context: dict[str, Any]) -> Rendered:
    settings = get_settings()
    values = {"product": settings.app_title, "base_url": base_url(), **context}
    first, _, text = _env.get_template(f"{kind}.txt").render(values).partition("\n")
    if not first.startswith(SUBJECT_PREFIX):
        raise ValueError(f"mail template {kind}.txt must start with {SUBJECT_PREFIX!r}")
    html = _env.get_template(f"{kind}.html").render(values)
    return Rendered(first[len(SUBJECT_PREFIX) :].strip(), text.lstrip("\n"), html)


def base_url() -> str:
    return get_settings().app_base_url.rstrip("/")


def link(path: str, token: str | None = None, **query: str) -> str:
    """An address in the app for a mail. A one-time token goes in the fragment (`#token=`),
    which browsers never send to a server: it stays out of access logs and Referer headers."""
    url = base_url() + path
    if query:
        url += "?" + urlencode(query)
    if token:
        url += "#" + urlencode({"token": token})
    return url
