"""The browser client: one static page that speaks the REST API and the `/ws` protocol."""

from __future__ import annotations

from flask import Blueprint, current_app

from web.extensions import limiter

bp = Blueprint("pages", __name__)


@bp.get("/")
@bp.get("/c/<session_id>")
@bp.get("/wallet")
@bp.get("/account")
@bp.get("/account/<tab>")
@bp.get("/admin")
@bp.get("/admin/<tab>")
@limiter.exempt
def index(session_id: str | None = None, tab: str | None = None):
    """The same page for every client route: a conversation's address (`/c/<sessionId>`) is
    read by the client, which loads it through the API (so a foreign id is simply not found)."""
    return current_app.send_static_file("index.html")


@bp.get("/forgot-password")
@bp.get("/reset-password")
@bp.get("/verify-email")
@bp.get("/confirm-email")
@bp.get("/receipt/<order_id>")
@limiter.exempt
def links(order_id: str | None = None):
    """The pages a mail links to, and the printable receipt: a small page of their own that
    works signed in or not (a link's token is in the address's `#` part, never sent here)."""
    return current_app.send_static_file("links.html")
