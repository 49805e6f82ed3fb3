"""Issuing, checking and revoking access tokens (JWT, HS256 only) and role checks.

A token stops working when it expires, is logged out (its `jti` on the user document until it
would have expired), was issued before the user's last password change or logout everywhere
(`tokenVersion`), or its user is deactivated or gone. All of it is in MongoDB
(`common.users.revocation`): losing Redis revives no token. Every failure is 401 UNAUTHORIZED
with `details.reason` saying why (a client shows it); 401 means "this session is over" and
nothing else — a wrong password to confirm an action is 400, a stale sign-in 403, a wrong role
403 FORBIDDEN.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, g
from flask_jwt_extended import (
    create_access_token,
    current_user,
    decode_token,
    get_jwt,
    verify_jwt_in_request,
)
from jwt import PyJWTError

from common.errors import Forbidden, Unauthorized
from common.users import revocation
from common.users.models import User
from common.users.service import find_user, get_user
from common.users.snapshot import snapshot
from config import Settings, get_settings
from web.errors import error_response
from web.extensions import jwt


def issue_token(user: User, fresh: bool = False) -> str:
    """An access token; `fresh` (a sign-in with password or Google just now) marks it fresh for
    `FRESH_SIGN_IN_SECONDS`, which setting a Google-only account's first password requires."""
    freshness = timedelta(seconds=get_settings().fresh_sign_in_seconds) if fresh else False
    return create_access_token(
        identity=str(user.id),
        fresh=freshness,
        additional_claims={
            "id": str(user.id),
            "email": user.email,
            "role": user.role,
            "tv": user.tokenVersion or 0,
        },
    )


def revoke(claims: dict) -> None:
    revocation.revoke_token(claims["sub"], claims["jti"], claims["exp"])


# Why a token stopped working, as `details.reason` of the 401 and the message a signed-out tab
# shows (docs/client.md, "When the client signs out").
SIGNED_OUT = {
    "signed_out_everywhere": (
        "SIGNED_OUT_EVERYWHERE",
        "You were signed out: “Sign out everywhere” was chosen on your account.",
    ),
    "password_changed": (
        "PASSWORD_CHANGED",
        "You were signed out because your password was changed.",
    ),
    "password_reset": ("PASSWORD_RESET", "You were signed out because your password was reset."),
    "closed": ("ACCOUNT_CLOSED", "This account was closed."),
}


def session_ended(reason: str, message: str) -> Unauthorized:
    return Unauthorized(message, {"reason": reason})


def user_for_claims(claims: dict) -> User | None:
    """The token's user if the token is still good for it; None when the user is gone, and
    `Unauthorized` with the reason (logged out, signed out everywhere, password changed,
    deactivated) otherwise."""
    try:
        user = get_user(claims["sub"])
    except Exception:
        return None
    if claims.get("tv", 0) != (user.tokenVersion or 0):
        reason, message = SIGNED_OUT.get(
            user.signOutReason or "", ("SESSION_ENDED", "Your session ended. Please log in again.")
        )
        raise session_ended(reason, message)
    if not user.isActive:
        raise session_ended("ACCOUNT_DISABLED", "This account is deactivated.")
    if revocation.is_revoked(user, claims.get("jti", "")):
        raise session_ended("LOGGED_OUT", "You logged out of this session.")
    return user


def authenticate_raw_token(token: str) -> tuple[User, dict]:
    """For callers outside a request's headers (the websocket): decode and check everything.
    Returns the user and the token's claims (to check again later with `recheck_claims`)."""
    try:
        claims = decode_token(token)
    except PyJWTError as exc:
        raise Unauthorized("Invalid or expired token.") from exc
    except Exception as exc:
        raise Unauthorized("Invalid token.") from exc
    if claims.get("type") != "access":  # a refresh token only ever buys a new access token
        raise Unauthorized("Only an access token opens a socket.")
    return recheck_claims(claims), claims


def recheck_claims(claims: dict) -> User:
    """The user of already-decoded claims, if the token is still good: not logged out, not
    older than a password change, its user active. Otherwise `Unauthorized`."""
    if claims.get("exp", float("inf")) < time.time():
        raise session_ended("SESSION_EXPIRED", "Your session expired. Log in again.")
    user = user_for_claims(claims)
    if user is None:
        raise session_ended("ACCOUNT_GONE", "This token is no longer valid. Please log in again.")
    return user


def login_required(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        verify_jwt_in_request()
        # The User itself, not flask-jwt-extended's request-bound proxy: services may hand it
        # to other greenlets or threads.
        user = current_user._get_current_object()
        g.user = user
        g.user_snapshot = lambda: snapshot(find_user(user.id) or user)
        return fn(*args, **kwargs)

    return wrapper


def admin_required(fn: Callable) -> Callable:
    @functools.wraps(fn)
    @login_required
    def wrapper(*args, **kwargs):
        if g.user.role != "admin":
            raise Forbidden("Admins only.")
        return fn(*args, **kwargs)

    return wrapper


def current_claims() -> dict:
    return get_jwt()


def require_fresh_sign_in(message: str) -> None:
    """403 unless the request's token came from a sign-in within `FRESH_SIGN_IN_SECONDS`
    (flask-jwt-extended's `fresh` claim: a flag or the time freshness ends). Not 401: the
    session is fine, and a client takes 401 for its end."""
    fresh = get_jwt().get("fresh", False)
    if fresh is True or (not isinstance(fresh, bool) and fresh > time.time()):
        return
    raise Forbidden(message, {"reason": "FRESH_SIGN_IN_REQUIRED"})


def init_jwt(app: Flask) -> None:
    jwt.init_app(app)

    @jwt.user_lookup_loader
    def _lookup(_header, claims):
        return user_for_claims(claims)

    def _unauthorized(reason: str, message: str):
        return error_response(session_ended(reason, message))

    jwt.unauthorized_loader(lambda why: _unauthorized("NO_TOKEN", "Authentication required."))
    jwt.invalid_token_loader(lambda why: _unauthorized("TOKEN_INVALID", "Invalid token."))
    jwt.expired_token_loader(
        lambda h, c: _unauthorized("SESSION_EXPIRED", "Your session expired. Log in again.")
    )
    jwt.revoked_token_loader(
        lambda h, c: _unauthorized("LOGGED_OUT", "You logged out of this session.")
    )
    jwt.user_lookup_error_loader(
        lambda h, c: _unauthorized(
            "ACCOUNT_GONE", "This token is no longer valid. Please log in again."
        )
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def content_security_policy(settings: Settings) -> dict[str, str]:
    """The page's CSP: our own origin, plus exactly what Razorpay Checkout and Google Identity
    Services need (their script's origin; Checkout's payment frame on Razorpay's API origin)."""
    checkout = _origin(settings.razorpay_checkout_url)
    gis = _origin(settings.google_gis_url) if settings.google_client_id else ""
    razorpay_api = "https://api.razorpay.com"
    third = " ".join(o for o in (checkout, gis) if o)
    frames = " ".join(dict.fromkeys(o for o in (checkout, razorpay_api, gis) if o))
    return {
        "default-src": "'self'",
        "script-src": f"'self' {third}".strip(),
        "frame-src": frames,
        # Same-origin websockets only ('self' covers ws/wss to this host): no socket elsewhere.
        "connect-src": f"'self' {third} {razorpay_api}".strip(),
        "style-src": f"'self' {gis + '/gsi/style' if gis else ''}".strip(),
        "img-src": "'self' data: https:",  # avatars are https URLs
    }
