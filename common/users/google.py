"""Verifying Google ID tokens against Google's JWKS (URL configurable for tests)."""

from __future__ import annotations

import jwt
from jwt import PyJWKClient

from common.errors import ServiceUnavailable, Unauthorized, ValidationError
from config import get_settings

GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
_clients: dict[str, PyJWKClient] = {}


def _jwks(url: str) -> PyJWKClient:
    if url not in _clients:
        _clients[url] = PyJWKClient(url, cache_keys=True, lifespan=3600, timeout=5)
    return _clients[url]


def verify_id_token(id_token: str) -> dict:
    """Return the token's claims if Google signed it for our client id; else `Unauthorized`."""
    settings = get_settings()
    if not settings.google_client_id:
        raise ServiceUnavailable("Google sign-in is not configured on this server.")
    try:
        key = _jwks(settings.google_jwks_url).get_signing_key_from_jwt(id_token)
    except jwt.PyJWKClientConnectionError as exc:
        raise ServiceUnavailable("Google's keys could not be fetched; try again.") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("The Google token is not valid.") from exc
    try:
        return jwt.decode(
            id_token,
            key.key,
            algorithms=["RS256"],
            audience=settings.google_client_id,
            issuer=GOOGLE_ISSUERS,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized("The Google token is not valid.") from exc


def claims_for_link(id_token: str) -> dict:
    """`verify_id_token` for a signed-in user linking Google: a bad Google token is that
    token's fault, not the session's, so it is 400 on `idToken`, never 401 (a client takes a
    401 for the end of its session)."""
    try:
        return verify_id_token(id_token)
    except Unauthorized as exc:
        raise ValidationError(exc.message, {"field": "idToken"}) from None
