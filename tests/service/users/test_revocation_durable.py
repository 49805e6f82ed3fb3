"""Logouts, logout everywhere and password changes survive losing Redis (FLUSHDB of the test's
own Redis database): revoked tokens never come back to life."""

from __future__ import annotations

import time

import pytest

from common.errors import Unauthorized
from common.redis_client import get_redis
from common.users import revocation
from common.users.models import User
from tests.support.http import auth
from web.security import authenticate_raw_token, recheck_claims

PASSWORD = "correct-horse-1"


def _login(client, email: str) -> str:
    res = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert res.status_code == 200, res.get_json()
    return res.get_json()["data"]["token"]


def _me(client, token: str) -> int:
    return client.get("/api/auth/me", headers=auth(token)).status_code


def test_a_logout_survives_a_redis_wipe(app, client, make_user):
    info, token = make_user(email="wipe-logout@example.com")
    other = _login(client, "wipe-logout@example.com")
    with app.app_context():
        _, claims = authenticate_raw_token(token)
    assert client.post("/api/auth/logout", headers=auth(token)).status_code == 200
    get_redis().flushdb()
    assert _me(client, token) == 401
    body = client.get("/api/auth/me", headers=auth(token)).get_json()
    assert (body["message"], body["details"]["reason"]) == (
        "You logged out of this session.",
        "LOGGED_OUT",
    )
    with app.app_context(), pytest.raises(Unauthorized):
        recheck_claims(claims)  # what an open websocket checks
    assert _me(client, other) == 200  # only that token


def test_logout_everywhere_survives_a_redis_wipe(app, client, make_user):
    _, token = make_user(email="wipe-all@example.com")
    other = _login(client, "wipe-all@example.com")
    res = client.post("/api/auth/logout-all", headers=auth(token))
    assert res.status_code == 200 and res.get_json()["status"] == "success"
    get_redis().flushdb()
    assert _me(client, token) == 401 and _me(client, other) == 401
    assert _me(client, _login(client, "wipe-all@example.com")) == 200  # a new sign-in works


def test_a_password_change_survives_a_redis_wipe(client, make_user):
    _, token = make_user(email="wipe-password@example.com")
    res = client.put(
        "/api/user/password",
        json={"currentPassword": PASSWORD, "newPassword": "another-horse-2"},
        headers=auth(token),
    )
    assert res.status_code == 200
    get_redis().flushdb()
    assert _me(client, token) == 401
    assert _me(client, res.get_json()["data"]["token"]) == 200


def test_revoked_tokens_that_expired_are_dropped_from_the_user(make_user):
    info, _ = make_user(email="prune@example.com")
    revocation.revoke_token(info["id"], "old-jti", time.time() - 1)
    revocation.revoke_token(info["id"], "live-jti", time.time() + 3600)
    assert set(User.objects.get(id=info["id"]).revokedTokens) == {"live-jti"}
