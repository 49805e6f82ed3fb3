"""Hostile JSON bodies are 400 VALIDATION_ERROR, never 500: nesting deep enough to exhaust the
parser's recursion limit, and nesting just under it that would trouble whatever walks it next."""

from __future__ import annotations

import pytest

from tests.support.http import auth
from web.validation import MAX_JSON_DEPTH

DEEP = "[" * 100_000 + "]" * 100_000  # a RecursionError in json.loads
OBJECTS = '{"a":' * 5_000 + "1" + "}" * 5_000


def post_raw(client, path: str, data: str, token: str | None = None):
    headers = {"Content-Type": "application/json", **(auth(token) if token else {})}
    return client.post(path, data=data, headers=headers)


def assert_400(res) -> dict:
    body = res.get_json()
    assert res.status_code == 400, (res.status_code, res.data[:300])
    assert (body["status"], body["code"]) == ("error", "VALIDATION_ERROR"), body
    return body


@pytest.mark.parametrize("data", [DEEP, OBJECTS], ids=["arrays", "objects"])
def test_deep_nesting_before_auth_is_400(client, data):
    body = assert_400(post_raw(client, "/api/auth/login", data))
    assert "nested too deeply" in body["message"]
    assert body["details"] == {"maxDepth": MAX_JSON_DEPTH}


def test_deep_nesting_in_a_field_is_400(client):
    data = '{"email": "a@b.co", "password": ' + DEEP + "}"
    assert_400(post_raw(client, "/api/auth/login", data))


def test_deep_nesting_on_authenticated_routes_is_400(client, make_user):
    _, token = make_user()
    assert_400(post_raw(client, "/api/chat", DEEP, token))
    res = client.put(
        "/api/user/profile",
        data=OBJECTS,
        headers={"Content-Type": "application/json", **auth(token)},
    )
    assert_400(res)


def test_request_get_json_anywhere_is_bounded(app):
    """Flask's own `request.get_json()` (not only `parse_body`) refuses deep nesting."""
    from flask import request
    from werkzeug.exceptions import BadRequest

    context = app.test_request_context(
        "/", method="POST", data=DEEP, content_type="application/json"
    )
    with context, pytest.raises(BadRequest):
        request.get_json()
