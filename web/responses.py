"""The success envelope: `{"status": "success", "data": {...}}`."""

from __future__ import annotations

from typing import Any

from flask import jsonify


def ok(data: Any = None, status: int = 200, message: str | None = None, headers=None):
    body: dict[str, Any] = {"status": "success", "data": data if data is not None else {}}
    if message:
        body["message"] = message
    return jsonify(body), status, headers or {}
