"""The websocket endpoint `/ws` (filled in by the streaming chat work)."""

from __future__ import annotations

from flask import Flask


def register_websocket(app: Flask) -> None:
    return None
