"""`/api/openapi.json` (the document) and `/api/docs` (the reference page, rendered here)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

bp = Blueprint("openapi", __name__, url_prefix="/api")

_cache: dict[int, dict] = {}


def _document() -> dict:
    from web.openapi import document

    key = id(current_app._get_current_object())
    if key not in _cache:
        _cache[key] = document(current_app)
    return _cache[key]


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(_document())
