"""Flask extensions, created once and bound to the app in `create_app`."""

from __future__ import annotations

from flask import request
from flask_cors import CORS
from flask_jwt_extended import JWTManager, get_jwt_identity, verify_jwt_in_request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_sock import Sock
from flask_talisman import Talisman

from config import get_settings


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
    return get_settings().rate_limit_api


jwt = JWTManager()
limiter = Limiter(key_func=user_or_ip, default_limits=[api_limit])
sock = Sock()
cors = CORS()
talisman = Talisman()
