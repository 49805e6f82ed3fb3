"""Errors in the documented shape, body limits, CORS and security headers."""

from __future__ import annotations

import json

import pytest

from tests.support.apps import fresh_app
from tests.support.http import auth


def assert_error(res, status: int, code: str) -> dict:
    body = res.get_json()
    assert res.status_code == status, (res.status_code, res.data[:300])
    assert res.mimetype == "application/json"
    assert set(body) >= {"status", "message", "code", "details"}, body
    assert (body["status"], body["code"]) == ("error", code)
    assert body["message"] and isinstance(body["details"], dict)
    return body


def test_unknown_route_is_404_json(client):
    assert_error(client.get("/api/nothing-here"), 404, "NOT_FOUND")
    assert_error(client.get("/no/such/page"), 404, "NOT_FOUND")


def test_wrong_method_is_405_json(client):
    assert_error(client.get("/api/auth/login"), 405, "METHOD_NOT_ALLOWED")
    assert_error(client.delete("/api/user/profile"), 405, "METHOD_NOT_ALLOWED")


def test_body_over_the_limit_is_413(base_settings):
    with fresh_app(base_settings, max_body_bytes=2_000) as app:
        client = app.test_client()
        big = {"email": "big@example.com", "password": "correct-horse-1", "name": "x" * 3_000}
        assert_error(client.post("/api/auth/register", json=big), 413, "PAYLOAD_TOO_LARGE")
        small = {"email": "small@example.com", "password": "correct-horse-1", "name": "Small"}
        assert client.post("/api/auth/register", json=small).status_code == 201


def test_unexpected_exception_is_500_without_a_stack_trace(base_settings):
    with fresh_app(base_settings) as app:
        app.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False)

        @app.get("/api/_boom")
        def boom():
            raise RuntimeError("secret internals: /etc/passwd at line 42")

        res = app.test_client().get("/api/_boom")
    body = assert_error(res, 500, "INTERNAL_ERROR")
    text = json.dumps(body)
    assert "secret internals" not in text and "Traceback" not in text and "line 42" not in text


def test_errors_after_login_carry_the_fresh_user_snapshot(client, make_user):
    _, token = make_user()
    res = client.put("/api/user/profile", json={"name": ""}, headers=auth(token))
    body = assert_error(res, 400, "VALIDATION_ERROR")
    assert body["user"]["tokens"]["balance"] == 10_000


def test_allowed_origin_gets_cors_headers_and_others_do_not(client):
    res = client.get("/api/auth/me", headers={"Origin": "http://localhost:3000"})
    assert res.headers.get("Access-Control-Allow-Origin") == "http://localhost:3000"
    res = client.get("/api/auth/me", headers={"Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in res.headers


def test_cors_preflight(client):
    headers = {
        "Origin": "http://localhost:3000",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Content-Type, Authorization",
    }
    res = client.options("/api/auth/login", headers=headers)
    assert res.status_code in (200, 204)
    assert res.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "POST" in res.headers["Access-Control-Allow-Methods"]
    allowed = res.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    evil = client.options(
        "/api/auth/login", headers={**headers, "Origin": "https://evil.example.com"}
    )
    assert "Access-Control-Allow-Origin" not in evil.headers


@pytest.mark.parametrize(
    "method, path, status",
    [
        ("get", "/api/auth/me", 401),
        ("get", "/api/nope", 404),
        ("post", "/api/auth/login", 400),
        ("get", "/health", None),
    ],
)
def test_security_headers_on_every_response(client, method, path, status):
    res = getattr(client, method)(path)
    if status is not None:
        assert res.status_code == status
    h = res.headers
    assert h["X-Content-Type-Options"] == "nosniff"
    csp = h["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert h.get("X-Frame-Options") in ("SAMEORIGIN", "DENY") or "frame-ancestors" in csp
    assert h["Referrer-Policy"]


def test_our_redis_down_is_503_not_500(base_settings, make_user):
    from tests.support.services import free_port

    _, token = make_user()
    with fresh_app(base_settings, redis_url=f"redis://127.0.0.1:{free_port()}/0") as app:
        res = app.test_client().get("/api/auth/me", headers=auth(token))
    assert_error(res, 503, "SERVICE_UNAVAILABLE")
