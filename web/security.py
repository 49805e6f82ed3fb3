"""Issuing, checking and revoking access tokens (JWT, HS256 only) and role checks.

A token stops working when it expires, is logged out (its `jti` in a Redis blocklist until it
would have expired), was issued before the user's last password change, or its user is
deactivated or gone. Every failure is 401 UNAUTHORIZED; a wrong role is 403 FORBIDDEN.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
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
from common.redis_client import get_redis
from common.users.models import User
from common.users.service import get_user
from common.users.snapshot import snapshot
from config import Settings
from web.errors import error_response
from web.extensions import jwt

_REVOKED = "aipasta:jwt:revoked:"


def issue_token(user: User) -> str:
    return create_access_token(
        identity=str(user.id),
        additional_claims={
            "id": str(user.id),
            "email": user.email,
            "role": user.role,
            "tv": user.tokenVersion or 0,
        },
    )


def revoke(claims: dict) -> None:
    ttl = max(1, int(claims["exp"] - time.time()) + 1)
    get_redis().set(_REVOKED + claims["jti"], "1", ex=ttl)


def is_revoked(claims: dict) -> bool:
    return bool(get_redis().exists(_REVOKED + claims.get("jti", "")))


def user_for_claims(claims: dict) -> User | None:
    """The token's user if the token is still good for it, else None."""
    try:
        user = get_user(claims["sub"])
    except Exception:
        return None
    if not user.isActive:
        return None
    if claims.get("tv", 0) != (user.tokenVersion or 0):
        return None
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
    return recheck_claims(claims), claims


def recheck_claims(claims: dict) -> User:
    """The user of already-decoded claims, if the token is still good: not logged out, not
    older than a password change, its user active. Otherwise `Unauthorized`."""
    if is_revoked(claims):
        raise Unauthorized("This token was logged out.")
    if claims.get("exp", float("inf")) < time.time():
        raise Unauthorized("Your session expired. Log in again.")
    user = user_for_claims(claims)
    if user is None:
        raise Unauthorized("This token is no longer valid. Please log in again.")
    return user


def login_required(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        verify_jwt_in_request()
        # The User itself, not flask-jwt-extended's request-bound proxy: services may hand it
        # to other greenlets or threads.
        user = current_user._get_current_object()
        g.user = user
        g.user_snapshot = lambda: snapshot(User.objects(id=user.id).first() or user)
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


def init_jwt(app: Flask) -> None:
    jwt.init_app(app)

    @jwt.token_in_blocklist_loader
    def _blocked(_header, claims):
        return is_revoked(claims)

    @jwt.user_lookup_loader
    def _lookup(_header, claims):
        return user_for_claims(claims)

    def _unauthorized(message: str):
        return error_response(Unauthorized(message))

    jwt.unauthorized_loader(lambda reason: _unauthorized("Authentication required."))
    jwt.invalid_token_loader(lambda reason: _unauthorized("Invalid token."))
    jwt.expired_token_loader(lambda h, c: _unauthorized("Your session expired. Log in again."))
    jwt.revoked_token_loader(lambda h, c: _unauthorized("This token was logged out."))
    jwt.user_lookup_error_loader(
        lambda h, c: _unauthorized("This token is no longer valid. Please log in again.")
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
        "connect-src": f"'self' ws: wss: {third}".strip(),
        "style-src": f"'self' {gis + '/gsi/style' if gis else ''}".strip(),
        "img-src": "'self' data: https:",  # avatars are https URLs
    }
