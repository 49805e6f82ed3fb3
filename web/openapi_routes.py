"""`/api/openapi.json` (the document) and `/api/docs` (the reference page, rendered here).

The page is built on the server from the same document with a Jinja template and our own
stylesheet: no script, nothing from another origin, so it runs under the app's CSP as it is.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template
from markupsafe import Markup, escape

bp = Blueprint(
    "openapi",
    __name__,
    url_prefix="/api",
    static_folder="openapi_static",
    static_url_path="/docs-static",
)

_cache: dict[int, dict] = {}
_METHODS = ("get", "post", "put", "patch", "delete")
TAG_ORDER = ("Auth", "User", "API keys", "Chat", "Models", "Plans", "OpenAI-compatible", "Admin")


def _document() -> dict:
    from web.openapi import document

    key = id(current_app._get_current_object())
    if key not in _cache:
        _cache[key] = document(current_app)
    return _cache[key]


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(_document())


@bp.get("/docs")
def reference():
    doc = _document()
    return render_template(
        "openapi/reference.html",
        doc=doc,
        groups=_by_tag(doc),
        schemas=doc["components"]["schemas"],
        type_of=type_of,
        prose=prose,
    )


def prose(text: str | None) -> Markup:
    """Escaped text with `code` spans (the descriptions' only markup)."""
    escaped = str(escape(text or ""))
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped))


def _by_tag(doc: dict) -> list[tuple[str, list[dict]]]:
    groups: dict[str, list[dict]] = {}
    for path, item in doc["paths"].items():
        for method in _METHODS:
            if method in item:
                op = item[method]
                tag = (op.get("tags") or ["Other"])[0]
                groups.setdefault(tag, []).append({"path": path, "method": method, **op})
    rank = {tag: i for i, tag in enumerate(TAG_ORDER)}
    return sorted(groups.items(), key=lambda item: rank.get(item[0], len(rank)))


def type_of(schema: dict[str, Any] | None) -> str:
    """A schema in a few words: `string`, `integer ≥ 1`, `array of Model`, `A | null`."""
    if not schema:
        return "any"
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "const" in schema:
        return repr(schema["const"])
    if "enum" in schema:
        return " | ".join(repr(v) for v in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(type_of(s) for s in schema[key])
    kind = schema.get("type", "object")
    if "format" in schema:
        kind = f"{kind} ({schema['format']})"
    if kind == "array":
        return f"array of {type_of(schema.get('items'))}"
    if kind == "object" and "additionalProperties" in schema and schema["additionalProperties"]:
        extra = schema["additionalProperties"]
        return f"map of {type_of(extra if isinstance(extra, dict) else None)}"
    bounds = [
        f"{word} {schema[key]}"
        for key, word in (
            ("minimum", "≥"),
            ("exclusiveMinimum", ">"),
            ("maximum", "≤"),
            ("exclusiveMaximum", "<"),
            ("minLength", "length ≥"),
            ("maxLength", "length ≤"),
            ("maxItems", "items ≤"),
        )
        if key in schema
    ]
    return kind + (f" ({', '.join(bounds)})" if bounds else "")
