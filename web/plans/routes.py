"""`/api/plans` routes."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("plans", __name__, url_prefix="/api/plans", cli_group=None)
