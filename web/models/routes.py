"""`/api/models` routes."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("models", __name__, url_prefix="/api/models", cli_group=None)
