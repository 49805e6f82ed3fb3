"""`/api/chat` routes."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("chat", __name__, url_prefix="/api/chat", cli_group=None)
