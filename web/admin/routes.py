"""`/api/admin` routes."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/api/admin", cli_group=None)
