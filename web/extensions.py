"""Flask extensions, created once and bound to the app in `create_app`."""

from __future__ import annotations

from flask import Flask, request
from flask_cors import CORS
from flask_jwt_extended import JWTManager, get_jwt_identity, verify_jwt_in_request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_sock import Sock

from config import Settings
from web.settings import current_settings


def user_or_ip() -> str:
    """Rate-limit key: the user id from a valid token, else the client's address."""
    try:
        verify_jwt_in_request(optional=True)
        identity = get_jwt_identity()
    except Exception:  # an invalid token is answered by the route, not here
        identity = None
    return f"user:{identity}" if identity else f"ip:{get_remote_address()}"


def ip_only() -> str:
    return f"ip:{request.remote_addr or 'unknown'}"


def api_limit() -> str:
    """Read per request: flask-limiter freezes `RATELIMIT_DEFAULT` at the first `init_app`."""
    return current_settings().rate_limit_api


jwt = JWTManager()
limiter = Limiter(key_func=user_or_ip, default_limits=[api_limit])
sock = Sock()
cors = CORS()


def init_limiter(app: Flask, settings: Settings) -> None:
    """Binds the one `limiter` to `settings`. flask-limiter keeps its storage (Redis) and on/off
    switch on the `limiter` object, not per app: the app whose `init_limiter` ran last sets them
    for every app in the process."""
    app.config.update(
        RATELIMIT_STORAGE_URI=settings.redis_url,
        RATELIMIT_ENABLED=settings.rate_limit_enabled,
        # Written by web.rate_headers: OpenAI's names on /v1, and one Retry-After on a 429.
        RATELIMIT_HEADERS_ENABLED=False,
        # Counters live under `aipasta:rl:` in Redis (limits' own default prefix is `LIMITS`).
        RATELIMIT_STORAGE_OPTIONS={"key_prefix": "aipasta:rl"},
    )
    limiter.init_app(app)
