"""Authentication of the `/v1` routes by a personal API key (`Authorization: Bearer ap-...`).

Only these routes accept a key, and they accept nothing else: a login token (JWT) is refused
here, and a key is refused on every `/api` route (it is not a JWT).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable

from flask import g, request
from flask_limiter.util import get_remote_address

from common.apikeys import service
from common.apikeys.errors import InvalidApiKey


def presented_secret() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def api_key_required(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        secret = presented_secret()
        if secret is None:
            raise InvalidApiKey(
                "No API key. Send it as `Authorization: Bearer ap-...` "
                "(create one at /api/user/api-keys)."
            )
        g.api_key, g.user = service.authenticate(secret)
        return fn(*args, **kwargs)

    return wrapper


def rate_limit_key() -> str:
    """Requests are counted per presented key (its hash), or per address without one."""
    secret = presented_secret()
    if secret:
        return "apikey:" + hashlib.sha256(secret.encode()).hexdigest()[:24]
    return f"ip:{get_remote_address()}"
