"""`/api/auth/*` and `/api/user/*` over the Flask test client: the happy paths and the attacks."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from common.users.models import User
from tests.support.http import auth

PASSWORD = "correct-horse-1"


def error_of(res, status: int, code: str) -> dict:
    body = res.get_json()
    assert res.status_code == status, body
    assert set(body) >= {"status", "message", "code", "details"}, body
    assert (body["status"], body["code"]) == ("error", code), body
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], dict)
    return body


def register(client, **body):
    payload = {"email": "ann@example.com", "password": PASSWORD, "name": "Ann", **body}
    return client.post("/api/auth/register", json=payload)


def login(client, email="ann@example.com", password=PASSWORD):
    return client.post("/api/auth/login", json={"email": email, "password": password})


def claims_of(token: str, settings) -> dict:
    return jwt.decode(token, settings.jwt_secret_key, algorithms=["HS256"])


def forge(claims: dict, key: str, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


# -- register and login -----------------------------------------------------------------------


def test_register_returns_the_snapshot_and_a_working_token(client):
    res = register(client, email="  Ann@Example.COM ")
    body = res.get_json()
    assert res.status_code == 201, body
    assert body["status"] == "success"
    user, token = body["data"]["user"], body["data"]["token"]
    assert user["email"] == "ann@example.com"
    assert user["tokens"] == {
        "balance": 10_000,
        "freeTokens": 10_000,
        "purchasedTokens": 0,
        "usedTokens": 0,
        "reserved": 0,
    }
    assert user["credits"] == 10_000
    assert user["role"] == "user"
    assert user["subscription"]["plan"] == "free"
    assert set(user["subscription"]["limits"]) == {"requestsPerDay", "tokensPerMonth"}
    assert user["subscription"]["limits"]["tokensPerMonth"] is None  # no monthly cap
    assert "password" not in user
    me = client.get("/api/auth/me", headers=auth(token))
    assert me.status_code == 200
    assert me.get_json()["data"]["user"]["id"] == user["id"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"email": "ann@example.com", "password": "short", "name": "Ann"}, "password"),
        ({"email": "ann@example.com", "name": "Ann"}, "password"),
        ({"password": PASSWORD, "name": "Ann"}, "email"),
        ({"email": "ann@example.com", "password": PASSWORD}, "name"),
        ({"email": "not-an-email", "password": PASSWORD, "name": "Ann"}, "email"),
        ({"email": "ann@example.com", "password": 12345678, "name": "Ann"}, "password"),
        ({"email": ["ann@example.com"], "password": PASSWORD, "name": "Ann"}, "email"),
        ({"email": "ann@example.com", "password": PASSWORD, "name": ""}, "name"),
        ({"email": "ann@example.com", "password": PASSWORD, "name": None}, "name"),
        ({"email": "ann@example.com", "password": "x" * 129, "name": "Ann"}, "password"),
    ],
)
def test_register_rejects_bad_fields(client, body, field):
    res = client.post("/api/auth/register", json=body)
    err = error_of(res, 400, "VALIDATION_ERROR")
    assert field in [e["field"] for e in err["details"]["errors"]], err
    assert User.objects.count() == 0


@pytest.mark.parametrize(
    "data, content_type, status, code",
    [
        ('{"email": "ann@example.com", ', "application/json", 400, "VALIDATION_ERROR"),
        ("[1, 2, 3]", "application/json", 400, "VALIDATION_ERROR"),
        ('"just a string"', "application/json", 400, "VALIDATION_ERROR"),
        ("null", "application/json", 400, "VALIDATION_ERROR"),
        ("", "application/json", 400, "VALIDATION_ERROR"),
        (
            "email=ann@example.com&password=x",
            "application/x-www-form-urlencoded",
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
    ],
)
def test_register_rejects_bodies_that_are_not_a_json_object(
    client, data, content_type, status, code
):
    res = client.post("/api/auth/register", data=data, content_type=content_type)
    error_of(res, status, code)
    assert User.objects.count() == 0


def test_duplicate_email_is_409_whatever_the_case(client):
    assert register(client).status_code == 201
    err = error_of(register(client, email="ANN@example.com"), 409, "CONFLICT")
    assert "email" in err["message"].lower()
    assert User.objects.count() == 1


def test_login_with_the_right_password(client):
    register(client)
    res = login(client, email="Ann@Example.com")
    assert res.status_code == 200
    data = res.get_json()["data"]
    assert data["user"]["tokens"]["balance"] == 10_000
    assert client.get("/api/auth/me", headers=auth(data["token"])).status_code == 200


def test_wrong_password_and_unknown_email_get_the_same_401(client):
    register(client)
    wrong = error_of(login(client, password="wrong-password"), 401, "UNAUTHORIZED")
    unknown = error_of(login(client, email="nobody@example.com"), 401, "UNAUTHORIZED")
    assert wrong["message"] == unknown["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"email": {"$ne": None}, "password": {"$gt": ""}},
        {"email": "ann@example.com", "password": {"$ne": "x"}},
        {"email": {"$regex": ".*"}, "password": PASSWORD},
        {"email": {"$in": ["ann@example.com"]}, "password": PASSWORD},
    ],
)
def test_operator_payloads_are_refused_and_match_nothing(client, body):
    register(client)
    res = client.post("/api/auth/login", json=body)
    err = error_of(res, 400, "VALIDATION_ERROR")
    assert "token" not in json.dumps(err)
    res = client.post("/api/auth/register", json={**body, "name": "Eve"})
    error_of(res, 400, "VALIDATION_ERROR")
    assert User.objects.count() == 1


# -- tokens -----------------------------------------------------------------------------------


@pytest.fixture
def ann(client):
    data = register(client).get_json()["data"]
    return data["user"], data["token"]


def test_requests_without_a_token_are_401(client):
    error_of(client.get("/api/auth/me"), 401, "UNAUTHORIZED")
    error_of(client.get("/api/auth/me", headers={"Authorization": "Bearer"}), 401, "UNAUTHORIZED")
    error_of(
        client.get("/api/auth/me", headers={"Authorization": "Basic abc"}), 401, "UNAUTHORIZED"
    )
    error_of(client.get("/api/auth/me", headers=auth("not.a.jwt")), 401, "UNAUTHORIZED")


def test_expired_token_is_401(client, ann, settings):
    claims = claims_of(ann[1], settings)
    claims.update(
        iat=int(time.time()) - 7200, nbf=int(time.time()) - 7200, exp=int(time.time()) - 60
    )
    token = forge(claims, settings.jwt_secret_key)
    error_of(client.get("/api/auth/me", headers=auth(token)), 401, "UNAUTHORIZED")


def test_tampered_signature_is_401(client, ann):
    head, payload, sig = ann[1].split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    error_of(
        client.get("/api/auth/me", headers=auth(f"{head}.{payload}.{flipped}")), 401, "UNAUTHORIZED"
    )


def test_tampered_claims_are_401(client, ann, settings):
    head, payload, sig = ann[1].split(".")
    claims = claims_of(ann[1], settings)
    claims["role"] = "admin"
    raw = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    error_of(client.get("/api/auth/me", headers=auth(f"{head}.{raw}.{sig}")), 401, "UNAUTHORIZED")


def test_alg_none_token_is_401(client, ann, settings):
    claims = claims_of(ann[1], settings)
    token = jwt.encode(claims, None, algorithm="none")
    error_of(client.get("/api/auth/me", headers=auth(token)), 401, "UNAUTHORIZED")
    # The same with a trailing signature part that is empty.
    error_of(client.get("/api/auth/me", headers=auth(token.rstrip(".") + ".")), 401, "UNAUTHORIZED")


def test_token_signed_with_another_secret_is_401(client, ann, settings):
    token = forge(claims_of(ann[1], settings), "another-secret-0123456789abcdef0123456789")
    error_of(client.get("/api/auth/me", headers=auth(token)), 401, "UNAUTHORIZED")


def test_token_with_another_hmac_algorithm_is_401(client, ann, settings):
    token = forge(claims_of(ann[1], settings), settings.jwt_secret_key, alg="HS512")
    error_of(client.get("/api/auth/me", headers=auth(token)), 401, "UNAUTHORIZED")


def test_token_for_a_deleted_user_is_401(client, ann):
    User.objects(id=ann[0]["id"]).delete()
    err = error_of(client.get("/api/auth/me", headers=auth(ann[1])), 401, "UNAUTHORIZED")
    assert "user" not in err


def test_token_with_a_malformed_subject_is_401(client, ann, settings):
    claims = claims_of(ann[1], settings)
    claims["sub"] = "not-an-object-id"
    token = forge(claims, settings.jwt_secret_key)
    error_of(client.get("/api/auth/me", headers=auth(token)), 401, "UNAUTHORIZED")


def test_logout_revokes_that_token_only(client, ann):
    other = login(client).get_json()["data"]["token"]
    res = client.post("/api/auth/logout", headers=auth(ann[1]))
    assert res.status_code == 200 and res.get_json()["status"] == "success"
    error_of(client.get("/api/auth/me", headers=auth(ann[1])), 401, "UNAUTHORIZED")
    error_of(client.post("/api/auth/logout", headers=auth(ann[1])), 401, "UNAUTHORIZED")
    assert client.get("/api/auth/me", headers=auth(other)).status_code == 200


def test_inactive_user_cannot_log_in_or_use_a_token(client, ann):
    User.objects(id=ann[0]["id"]).update_one(set__isActive=False)
    error_of(login(client), 401, "UNAUTHORIZED")
    error_of(client.get("/api/auth/me", headers=auth(ann[1])), 401, "UNAUTHORIZED")
    error_of(client.get("/api/user/profile", headers=auth(ann[1])), 401, "UNAUTHORIZED")


# -- password and profile ---------------------------------------------------------------------


def test_password_change_invalidates_older_tokens(client, ann):
    second = login(client).get_json()["data"]["token"]
    res = client.put(
        "/api/user/password",
        json={"currentPassword": PASSWORD, "newPassword": "battery-staple-2"},
        headers=auth(ann[1]),
    )
    assert res.status_code == 200, res.get_json()
    fresh = res.get_json()["data"]["token"]
    for old in (ann[1], second):
        error_of(client.get("/api/auth/me", headers=auth(old)), 401, "UNAUTHORIZED")
    assert client.get("/api/auth/me", headers=auth(fresh)).status_code == 200
    error_of(login(client), 401, "UNAUTHORIZED")
    assert login(client, password="battery-staple-2").status_code == 200


def test_password_change_with_wrong_current_password_is_400_and_keeps_the_session(client, ann):
    res = client.put(
        "/api/user/password",
        json={"currentPassword": "not-my-password", "newPassword": "battery-staple-2"},
        headers=auth(ann[1]),
    )
    body = error_of(res, 400, "WRONG_PASSWORD")
    assert body["details"] == {"field": "currentPassword"}
    assert client.get("/api/auth/me", headers=auth(ann[1])).status_code == 200
    assert login(client).status_code == 200


def test_password_change_validates_the_new_password(client, ann):
    res = client.put(
        "/api/user/password",
        json={"currentPassword": PASSWORD, "newPassword": "short"},
        headers=auth(ann[1]),
    )
    error_of(res, 400, "VALIDATION_ERROR")
    assert login(client).status_code == 200


def test_profile_get_and_update(client, ann):
    res = client.get("/api/user/profile", headers=auth(ann[1]))
    assert res.status_code == 200
    profile = res.get_json()["data"]["user"]
    assert profile["tokens"]["balance"] == 10_000
    assert profile["preferences"] == {
        "theme": "auto",
        "defaultModels": [],
        "language": "en",
        "temperature": None,
        "maxTokens": None,
    }
    assert profile["usage"] == {"totalRequests": 0, "totalTokens": 0, "totalCost": 0.0}
    res = client.put(
        "/api/user/profile",
        json={
            "name": "Ann B",
            "preferences": {
                "theme": "dark",
                "defaultModels": ["openai/gpt-4o-mini"],
                "language": "fr",
            },
        },
        headers=auth(ann[1]),
    )
    assert res.status_code == 200, res.get_json()
    updated = res.get_json()["data"]["user"]
    assert updated["name"] == "Ann B"
    assert updated["preferences"] == {
        "theme": "dark",
        "defaultModels": ["openai/gpt-4o-mini"],
        "language": "fr",
        "temperature": None,
        "maxTokens": None,
    }
    # A partial update keeps the other preferences.
    res = client.put(
        "/api/user/profile", json={"preferences": {"theme": "light"}}, headers=auth(ann[1])
    )
    assert res.get_json()["data"]["user"]["preferences"]["defaultModels"] == ["openai/gpt-4o-mini"]
    again = client.get("/api/user/profile", headers=auth(ann[1])).get_json()["data"]["user"]
    assert again["preferences"]["theme"] == "light"
    assert again["tokens"]["balance"] == 10_000


@pytest.mark.parametrize(
    "body",
    [
        {"preferences": {"theme": "neon"}},
        {"preferences": {"defaultModels": "gpt"}},
        {"preferences": {"defaultModels": [1, 2]}},
        {"preferences": {"language": 5}},
        {"preferences": "dark"},
        {"name": ""},
        {"name": {"$set": "x"}},
    ],
)
def test_profile_update_rejects_bad_values(client, ann, body):
    res = client.put("/api/user/profile", json=body, headers=auth(ann[1]))
    error_of(res, 400, "VALIDATION_ERROR")
    profile = client.get("/api/user/profile", headers=auth(ann[1])).get_json()["data"]["user"]
    assert (profile["name"], profile["preferences"]["theme"]) == ("Ann", "auto")


def test_profile_update_cannot_touch_the_wallet_or_role(client, ann):
    res = client.put(
        "/api/user/profile",
        json={"role": "admin", "tokens": {"balance": 10**9}, "credits": 10**9, "name": "Ann"},
        headers=auth(ann[1]),
    )
    assert res.status_code == 200
    user = res.get_json()["data"]["user"]
    assert (user["role"], user["tokens"]["balance"], user["credits"]) == ("user", 10_000, 10_000)


def test_profile_refuses_overlong_default_models(client, ann):
    for models in (["m"] * 11, ["x" * 201], [""]):
        body = {"preferences": {"defaultModels": models}}
        res = client.put("/api/user/profile", json=body, headers=auth(ann[1]))
        error_of(res, 400, "VALIDATION_ERROR")
