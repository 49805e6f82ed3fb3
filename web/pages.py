"""The browser client: one static page that speaks the REST API and the `/ws` protocol."""

from __future__ import annotations

from flask import Blueprint, current_app

from web.extensions import limiter

bp = Blueprint("pages", __name__)


@bp.get("/")
@limiter.exempt
def index():
    return current_app.send_static_file("index.html")
