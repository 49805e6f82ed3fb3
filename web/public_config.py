"""`GET /api/config`: what the browser client needs to know before anyone logs in."""

from __future__ import annotations

from flask import Blueprint

from common.users.models import PLAN_LIMITS
from config import get_settings
from web.openapi import operation
from web.responses import ok

bp = Blueprint("public_config", __name__, url_prefix="/api")


@bp.get("/config")
@operation(
    "Public client settings (Checkout and Google script URLs, Google client id)",
    tags=("User",),
    auth=None,
    responses={200: None},
)
def client_config():
    """Public settings only: where Razorpay Checkout's and Google's scripts load from, the
    Google client id (the sign-in button shows only when it is set), and the free allowance a
    new account gets. No secret is here."""
    s = get_settings()
    google = (
        {"clientId": s.google_client_id, "scriptUrl": s.google_gis_url}
        if s.google_client_id
        else None
    )
    return ok(
        {
            "razorpay": {
                "checkoutUrl": s.razorpay_checkout_url,
                "keyId": s.razorpay_key_id or None,
            },
            "google": google,
            "appTitle": s.app_title,
            # What a new account gets, for the landing page (plans are `GET /api/plans`).
            "free": {
                "tokens": s.free_tokens,
                "requestsPerDay": PLAN_LIMITS["free"]["requestsPerDay"],
            },
        }
    )
