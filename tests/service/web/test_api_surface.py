"""How errors and headers look on `/api` and `/v1` (Flask's client, nx-27017, real Redis):
field paths and messages, 405 with `Allow`, 415, the rate limit's headers and one Retry-After."""

from __future__ import annotations

import pytest

from common.apikeys.models import ApiKey
from tests.support.apps import fresh_app
from tests.support.http import auth
from web.rate_headers import duration

FREE = "deepseek/deepseek-r1:free"
CHAT = "/v1/chat/completions"


@pytest.fixture
def key(client, make_user, openrouter):
    """(login token, API key secret) of a new user."""
    _, token = make_user()
    res = client.post("/api/user/api-keys", json={"name": "k"}, headers=auth(token))
    return token, res.get_json()["data"]["secret"]


def _ask(**extra) -> dict:
    return {"model": FREE, "messages": [{"role": "user", "content": "hi"}], **extra}


@pytest.mark.parametrize(
    ("body", "param", "message"),
    [
        ({"model": FREE}, "messages", "messages: is required"),
        ({"model": FREE, "messages": []}, "messages", "messages: List should have at least 1"),
        (
            {"model": FREE, "messages": [{"role": "user", "content": "a"}, {"role": "bot"}]},
            "messages.1.role",
            "messages.1.role: Input should be 'system', 'developer', 'user', 'assistant' or 'tool'",
        ),
        (
            {"model": FREE, "messages": [{"content": "a"}]},
            "messages.0.role",
            "messages.0.role: is required",
        ),
        (
            {
                "model": FREE,
                "messages": [
                    {"role": "user", "content": "a"},
                    {"role": "user", "content": "b"},
                    {"role": "tool", "content": "c"},
                ],
            },
            "messages.2.tool_call_id",
            "messages.2.tool_call_id: is required",
        ),
        (
            {"model": FREE, "messages": [{"role": "user", "content": [{"type": "video_url"}]}]},
            "messages.0.content.0",
            "messages.0.content.0: content parts of type 'video_url' are not supported; use "
            "'text' or 'image_url'",
        ),
        (
            {
                "model": FREE,
                "messages": [
                    {"role": "system", "content": [{"type": "image_url"}]},
                    {"role": "user", "content": "a"},
                ],
            },
            "messages.0.content.0",
            "messages.0.content.0: content parts of type 'image_url' are only taken in user "
            "messages",
        ),
        (
            {
                "model": FREE,
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}
                ],
            },
            "messages.0.content.0.image_url.url",
            "messages.0.content.0.image_url.url: String should match pattern",
        ),
        (
            {
                "model": FREE,
                "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": 5}]}],
            },
            "messages.0.content.0.image_url",
            "messages.0.content.0.image_url: Input should be an object",
        ),
        (  # found by schemathesis: a `type` that is no string was once a 500
            {"model": FREE, "messages": [{"role": "user", "content": [{"type": {}, "text": ""}]}]},
            "messages.0.content.0",
            "messages.0.content.0: must be a content part with a `type`: 'text' or 'image_url'",
        ),
        (
            {"model": FREE, "messages": [{"role": "user", "content": 5}]},
            "messages.0.content",
            "messages.0.content: must be a string or a list of content parts",
        ),
        (
            {"model": FREE, "messages": [{"role": "system", "content": "x"}]},
            "messages",
            "messages: must contain a user message with text or an image",
        ),
        (_ask(tool_choice="auto"), "tool_choice", "tool_choice: needs `tools`"),
        (
            _ask(
                tools=[{"type": "function", "function": {"name": "a"}}],
                tool_choice={"type": "function", "function": {"name": "b"}},
            ),
            "tool_choice",
            "tool_choice: names 'b', which is not in `tools`",
        ),
        (
            _ask(response_format={"type": "json_schema", "json_schema": 5}),
            "response_format.json_schema",
            "response_format.json_schema: Input should be an object",
        ),
        (
            _ask(response_format={"type": "xml"}),
            "response_format.type",
            "response_format.type: Input should be 'text', 'json_object' or 'json_schema'",
        ),
        (
            _ask(modalities=["text", "image"]),
            "modalities.1",
            "modalities.1: Input should be 'text'",
        ),
        (_ask(temperature=3), "temperature", "temperature: Input should be less than or equal"),
        (_ask(temperature="hot"), "temperature", "temperature: Input should be a valid number"),
        (_ask(top_p=0), "top_p", "top_p: Input should be greater than 0"),
        (_ask(n=2), "n", "n: Input should be less than or equal to 1"),
        (_ask(stop=5), "stop", "stop: Input should be a valid string; or Input should be"),
        (_ask(max_tokens=10**6), "max_tokens", "max_tokens: must be at most 4000"),
        (
            _ask(max_completion_tokens=5000),
            "max_completion_tokens",
            "max_completion_tokens: must be",
        ),
    ],
)
def test_v1_field_errors_name_their_param_in_dotted_form(client, key, body, param, message):
    res = client.post(CHAT, json=body, headers=auth(key[1]))
    error = res.get_json()["error"]
    assert res.status_code == 400, error
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "validation_error",
        param,
    )
    assert error["message"].startswith(message), error["message"]
    for internal in ("constrained-str", "list[", "function-", "Value error", "union"):
        assert internal not in error["message"]


def test_legacy_completions_refuse_what_they_would_otherwise_ignore(client, key):
    for body, param in (
        ({"model": FREE, "prompt": "a", "echo": True}, "echo"),
        ({"model": FREE, "prompt": "a", "suffix": "z"}, "suffix"),
        ({"model": FREE, "prompt": "a", "best_of": 2}, "best_of"),
        ({"model": FREE, "prompt": ["a", "b"]}, "prompt"),
        ({"model": FREE, "prompt": "  "}, "prompt"),
        ({"model": FREE}, "prompt"),
    ):
        res = client.post("/v1/completions", json=body, headers=auth(key[1]))
        assert res.status_code == 400 and res.get_json()["error"]["param"] == param, body


def test_a_legacy_prompt_too_long_for_the_model_is_named_prompt(client, key):
    body = {"model": "fake/echo", "prompt": "word " * 6_200, "max_tokens": 1_000}
    res = client.post("/v1/completions", json=body, headers=auth(key[1]))
    error = res.get_json()["error"]
    assert res.status_code == 400 and error["param"] == "prompt", error
    assert error["message"].startswith("prompt: about 7") and "fake/echo" in error["message"]


def test_api_validation_details_name_fields_in_dotted_form(client, key):
    body = {"name": "", "preferences": {"theme": "pink", "defaultModels": ["ok", 5]}}
    res = client.put("/api/user/profile", json=body, headers=auth(key[0]))
    error = res.get_json()
    assert res.status_code == 400 and error["code"] == "VALIDATION_ERROR"
    fields = {e["field"]: e["message"] for e in error["details"]["errors"]}
    assert set(fields) == {"name", "preferences.theme", "preferences.defaultModels.1"}
    assert fields["preferences.theme"] == "Input should be 'light', 'dark' or 'auto'"
    assert error["details"]["field"] == "name" and error["message"].startswith("name: ")


def test_a_405_says_which_methods_the_path_takes(client, key):
    res = client.get("/api/auth/login")
    assert res.status_code == 405 and _allowed(res) == {"OPTIONS", "POST"}
    assert res.get_json()["code"] == "METHOD_NOT_ALLOWED"
    res = client.delete(CHAT, headers=auth(key[1]))
    assert res.status_code == 405 and _allowed(res) == {"OPTIONS", "POST"}
    assert res.get_json()["error"]["type"] == "invalid_request_error"
    res = client.put("/api/chat/sessions/abc")
    assert _allowed(res) == {"DELETE", "GET", "HEAD", "OPTIONS", "PATCH"}


def _allowed(res) -> set[str]:
    return set(res.headers["Allow"].split(", "))


def test_a_body_that_is_not_json_is_415_and_a_missing_one_400(client, key):
    form = {"email": "a@b.c", "password": "x"}
    res = client.post("/api/auth/login", data=form)
    assert res.status_code == 415 and res.get_json()["code"] == "UNSUPPORTED_MEDIA_TYPE"
    res = client.post("/api/auth/login", data="{}", content_type="text/plain")
    assert res.status_code == 415
    assert client.post("/api/auth/login").status_code == 400
    res = client.post(CHAT, data='{"model": "x"}', content_type="text/plain", headers=auth(key[1]))
    assert res.status_code == 415
    assert res.get_json()["error"]["code"] == "unsupported_media_type"


def test_v1_answers_carry_openai_rate_limit_headers(client, key):
    res = client.get("/v1/models", headers=auth(key[1]))
    assert res.status_code == 200
    h = res.headers
    assert h["x-ratelimit-limit-requests"] == "5000"
    assert int(h["x-ratelimit-remaining-requests"]) == 4999
    assert h["x-ratelimit-reset-requests"].endswith("s")
    assert "x-ratelimit-limit-tokens" not in h  # no cap, no token limit
    assert "X-RateLimit-Limit" not in h and "Retry-After" not in h


def test_a_capped_key_shows_its_tokens_left(client, key):
    res = client.post(
        "/api/user/api-keys",
        json={"name": "capped", "dailyTokenCap": 5000, "monthlyTokenCap": 100_000},
        headers=auth(key[0]),
    )
    secret = res.get_json()["data"]["secret"]
    h = client.get("/v1/models", headers=auth(secret)).headers
    assert (h["x-ratelimit-limit-tokens"], h["x-ratelimit-remaining-tokens"]) == ("5000", "5000")
    assert h["x-ratelimit-reset-tokens"] == duration(_seconds(h["x-ratelimit-reset-tokens"]))
    assert 0 < _seconds(h["x-ratelimit-reset-tokens"]) <= 86_401  # until UTC midnight
    from common.apikeys import caps

    capped = ApiKey.objects.get(name="capped")
    caps.take(capped, 4_900, capped.createdAt.strftime("%Y-%m-%d"))
    h = client.get("/v1/models", headers=auth(secret)).headers
    assert h["x-ratelimit-remaining-tokens"] == "100"


def _seconds(text: str) -> int:
    total, number = 0, ""
    for ch in text:
        if ch.isdigit():
            number += ch
        else:
            total += int(number) * {"h": 3600, "m": 60, "s": 1}[ch]
            number = ""
    return total


def test_api_answers_carry_the_window_and_a_429_one_retry_after(base_settings, make_user):
    with fresh_app(base_settings, rate_limit_api="2/minute") as app:
        client = app.test_client()
        _, token = make_user()
        ok = client.get("/api/user/profile", headers=auth(token))
        assert (ok.headers["X-RateLimit-Limit"], ok.headers["X-RateLimit-Remaining"]) == ("2", "1")
        client.get("/api/user/profile", headers=auth(token))
        res = client.get("/api/user/profile", headers=auth(token))
    assert res.status_code == 429
    retry = res.headers["Retry-After"]
    assert res.headers["X-RateLimit-Reset"] == retry and 1 <= int(retry) <= 60
    assert res.get_json()["details"]["retryAfter"] == int(retry)
    assert res.headers.getlist("Retry-After") == [retry]
    assert "X-RateLimit-Retry-After" not in res.headers  # (case-insensitive)


def test_a_v1_429_has_one_retry_after_matching_the_reset(base_settings, make_user, openrouter):
    with fresh_app(base_settings, rate_limit_api="1/minute") as app:
        client = app.test_client()
        _, token = make_user()
        secret = client.post(
            "/api/user/api-keys", json={"name": "k"}, headers=auth(token)
        ).get_json()["data"]["secret"]
        client.get("/v1/models", headers=auth(secret))
        res = client.get("/v1/models", headers=auth(secret))
    assert res.status_code == 429 and res.get_json()["error"]["code"] == "rate_limited"
    retry = res.headers["Retry-After"]
    assert res.headers.getlist("Retry-After") == [retry]
    assert res.headers["x-ratelimit-reset-requests"] == duration(int(retry))
    assert res.headers["x-ratelimit-remaining-requests"] == "0"
    assert "X-RateLimit-Retry-After" not in res.headers  # (case-insensitive)


def test_an_endpoint_v1_lacks_is_a_404_naming_the_ones_it_has(client, key):
    res = client.post("/v1/responses", json={"model": "x", "input": "hi"}, headers=auth(key[1]))
    error = res.get_json()["error"]
    assert res.status_code == 404 and error["code"] == "not_found"
    assert error["type"] == "invalid_request_error" and error["param"] is None
    assert error["message"].startswith("No such endpoint: POST /v1/responses.")
    assert "POST /v1/chat/completions" in error["message"]
    res = client.get("/api/nothing-here")  # outside /v1 the product's own shape and words
    assert res.status_code == 404 and res.get_json()["message"] == "Not found."
