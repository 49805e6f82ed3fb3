"""Rate limits: login/register per IP, the API per user, counters in our Redis namespace."""

from __future__ import annotations

import redis

from tests.support.apps import fresh_app
from tests.support.http import auth


def assert_rate_limited(res) -> int:
    body = res.get_json()
    assert res.status_code == 429, body
    assert (body["status"], body["code"]) == ("error", "RATE_LIMITED")
    retry_after = int(res.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert body["details"]["retryAfter"] == retry_after
    return retry_after


def test_login_is_limited_per_ip(base_settings):
    with fresh_app(base_settings, rate_limit_auth="3/minute") as app:
        client = app.test_client()
        creds = {"email": "nobody@example.com", "password": "whatever-123"}
        for _ in range(3):
            assert client.post("/api/auth/login", json=creds).status_code == 401
        assert_rate_limited(client.post("/api/auth/login", json=creds))
        # Another address has its own budget.
        other = {"REMOTE_ADDR": "10.1.2.3"}
        res = client.post("/api/auth/login", json=creds, environ_base=other)
        assert res.status_code == 401
        # The counters are in our Redis database, under our prefix.
        keys = list(redis.Redis.from_url(base_settings.redis_url).scan_iter("aipasta:rl:*"))
        assert any(b"127.0.0.1" in k for k in keys), keys
        assert any(b"10.1.2.3" in k for k in keys), keys


def test_register_is_limited_per_ip(base_settings):
    with fresh_app(base_settings, rate_limit_auth="2/minute") as app:
        client = app.test_client()
        for n in range(2):
            body = {"email": f"r{n}@example.com", "password": "correct-horse-1", "name": "R"}
            assert client.post("/api/auth/register", json=body).status_code == 201
        body = {"email": "r9@example.com", "password": "correct-horse-1", "name": "R"}
        assert_rate_limited(client.post("/api/auth/register", json=body))


def test_a_valid_token_does_not_escape_the_ip_limit_on_login(base_settings):
    with fresh_app(base_settings, rate_limit_auth="2/minute") as app:
        client = app.test_client()
        body = {"email": "t@example.com", "password": "correct-horse-1", "name": "T"}
        token = client.post("/api/auth/register", json=body).get_json()["data"]["token"]
        creds = {"email": "t@example.com", "password": "correct-horse-1"}
        for _ in range(2):
            res = client.post("/api/auth/login", json=creds, headers=auth(token))
            assert res.status_code == 200
        assert_rate_limited(client.post("/api/auth/login", json=creds, headers=auth(token)))


def test_api_limit_is_per_user_not_per_ip(base_settings):
    with fresh_app(base_settings, rate_limit_api="3/minute") as app:
        client = app.test_client()
        tokens = []
        for name in ("a", "b"):
            body = {"email": f"{name}@example.com", "password": "correct-horse-1", "name": name}
            tokens.append(client.post("/api/auth/register", json=body).get_json()["data"]["token"])
        for _ in range(3):
            assert client.get("/api/user/profile", headers=auth(tokens[0])).status_code == 200
        assert_rate_limited(client.get("/api/user/profile", headers=auth(tokens[0])))
        # Same address, another user: a budget of its own.
        for _ in range(3):
            assert client.get("/api/user/profile", headers=auth(tokens[1])).status_code == 200
        assert_rate_limited(client.get("/api/user/profile", headers=auth(tokens[1])))


def test_ordinary_responses_carry_no_retry_after(client):
    res = client.get("/api/auth/me")
    assert "Retry-After" not in res.headers
    assert "X-RateLimit-Remaining" in res.headers


def test_health_is_not_rate_limited(base_settings):
    with fresh_app(base_settings, rate_limit_api="1/minute") as app:
        client = app.test_client()
        codes = {client.get("/health").status_code for _ in range(3)}
        assert 429 not in codes
