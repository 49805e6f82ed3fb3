"""`POST /api/auth/google` against a real local JWKS server and locally generated RSA keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from cryptography.hazmat.primitives import serialization

from common.users.models import User
from tests.fakes.google_jwks import FakeGoogle, new_key
from tests.support.http import auth
from tests.support.services import free_port


@pytest.fixture
def google(settings_override):
    with FakeGoogle() as fake:
        settings_override(google_jwks_url=fake.jwks_url, google_client_id=fake.client_id)
        yield fake


def sign_in(client, token: str):
    return client.post("/api/auth/google", json={"idToken": token})


def assert_401(res):
    body = res.get_json()
    assert res.status_code == 401, body
    assert (body["status"], body["code"]) == ("error", "UNAUTHORIZED")
    assert User.objects.count() == 0


def test_valid_token_creates_the_account_then_reuses_it(client, google):
    res = sign_in(client, google.id_token())
    assert res.status_code == 200, res.get_json()
    data = res.get_json()["data"]
    assert data["user"]["email"] == "ann@example.com"
    assert data["user"]["tokens"]["balance"] == 10_000
    assert client.get("/api/auth/me", headers=auth(data["token"])).status_code == 200
    again = sign_in(client, google.id_token(email="ANN@example.com")).get_json()["data"]
    assert again["user"]["id"] == data["user"]["id"]
    assert again["user"]["tokens"]["balance"] == 10_000
    user = User.objects.get()
    assert (user.googleId, user.password) == ("1098765432101234567890", None)
    # A Google-only account has no password to log in with.
    res = client.post("/api/auth/login", json={"email": "ann@example.com", "password": "x" * 8})
    assert res.status_code == 401


def assert_conflict(res, reason: str) -> dict:
    body = res.get_json()
    assert res.status_code == 409, body
    assert (body["code"], body["details"]["reason"]) == ("CONFLICT", reason), body
    assert "token" not in (body.get("data") or {})
    return body


def link(client, token: str, id_token: str):
    return client.post("/api/auth/google/link", json={"idToken": id_token}, headers=auth(token))


def test_google_never_signs_into_a_password_account_with_its_email(client, google, make_user):
    """Pre-hijacking: someone registers the victim's address with a password first. The
    victim's Google sign-in must not land in that account (the squatter's password would still
    open it): 409, nothing linked, no token."""
    squatter, _ = make_user(email="ann@example.com", password="squatters-pass-77")
    body = assert_conflict(sign_in(client, google.id_token()), "GOOGLE_NOT_LINKED")
    assert "Sign in with its password, then connect Google" in body["message"]
    assert User.objects.get(id=squatter["id"]).googleId is None
    assert User.objects.count() == 1
    # Any capitalisation of the address is the same account.
    assert_conflict(sign_in(client, google.id_token(email="Ann@Example.com")), "GOOGLE_NOT_LINKED")


def test_owner_connects_google_from_the_signed_in_account(client, google, make_user):
    """The explicit path: signed in with the password, plus Google's token for the same email."""
    user, token = make_user(email="ann@example.com")
    res = link(client, token, google.id_token())
    assert res.status_code == 200, res.get_json()
    assert User.objects.get(id=user["id"]).googleId == "1098765432101234567890"
    assert link(client, token, google.id_token()).status_code == 200  # again: a no-op
    res = sign_in(client, google.id_token())
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["data"]["user"]["id"] == user["id"]
    login = {"email": "ann@example.com", "password": "correct-horse-1"}
    assert client.post("/api/auth/login", json=login).status_code == 200


def test_linking_needs_a_signed_in_user_and_google_proof_of_the_same_email(
    client, google, make_user
):
    user, token = make_user(email="ann@example.com")
    assert (
        client.post("/api/auth/google/link", json={"idToken": google.id_token()}).status_code == 401
    )
    assert_conflict(
        link(client, token, google.id_token(email="bob@example.com")), "GOOGLE_EMAIL_MISMATCH"
    )
    # A bad Google token is that token's fault: 400 on idToken, and the session stays.
    res = link(client, token, google.id_token(email_verified=False))
    assert (res.status_code, res.get_json()["code"]) == (400, "VALIDATION_ERROR")
    assert res.get_json()["details"]["field"] == "idToken"
    res = link(client, token, google.id_token(key=new_key()))
    assert (res.status_code, res.get_json()["code"]) == (400, "VALIDATION_ERROR")
    assert client.get("/api/auth/me", headers=auth(token)).status_code == 200
    # A Google identity already behind another account is not moved.
    _, bob_token = make_user(email="bob@example.com")
    assert (
        link(client, bob_token, google.id_token(sub="42", email="bob@example.com")).status_code
        == 200
    )
    assert_conflict(link(client, token, google.id_token(sub="42")), "GOOGLE_IN_USE")
    assert User.objects.get(id=user["id"]).googleId is None


def test_a_password_cannot_take_over_a_google_account(client, google):
    created = sign_in(client, google.id_token()).get_json()["data"]
    squat = {"email": "ann@example.com", "password": "squatters-pass-77", "name": "Mallory"}
    res = client.post("/api/auth/register", json=squat)
    assert (res.status_code, res.get_json()["code"]) == (409, "CONFLICT")
    login = {"email": "ann@example.com", "password": "squatters-pass-77"}
    assert client.post("/api/auth/login", json=login).status_code == 401
    assert User.objects.get(id=created["user"]["id"]).password is None


def test_a_google_only_account_sets_its_first_password_only_after_a_fresh_sign_in(
    client, google, settings_override
):
    first = {"currentPassword": "", "newPassword": "battery-staple-2"}
    settings_override(
        google_jwks_url=google.jwks_url, google_client_id=google.client_id, fresh_sign_in_seconds=0
    )  # every token is already stale
    stale = sign_in(client, google.id_token()).get_json()["data"]["token"]
    res = client.put("/api/user/password", json=first, headers=auth(stale))
    body = res.get_json()
    assert (res.status_code, body["code"]) == (403, "FORBIDDEN"), body
    assert body["details"]["reason"] == "FRESH_SIGN_IN_REQUIRED"
    assert User.objects.get().password is None
    settings_override(
        google_jwks_url=google.jwks_url,
        google_client_id=google.client_id,
        fresh_sign_in_seconds=300,
    )
    fresh = sign_in(client, google.id_token()).get_json()["data"]
    res = client.put("/api/user/password", json=first, headers=auth(fresh["token"]))
    assert res.status_code == 200, res.get_json()
    # The token handed back is not fresh; changing an existing password asks for the current one.
    again = {"currentPassword": "battery-staple-2", "newPassword": "correct-horse-9"}
    newer = res.get_json()["data"]["token"]
    assert client.put("/api/user/password", json=again, headers=auth(newer)).status_code == 200


@pytest.mark.parametrize("verified", [None, False, "false", "yes", 1])
def test_email_verified_must_be_true(client, google, verified):
    assert_401(sign_in(client, google.id_token(email_verified=verified)))


def test_unverified_email_is_refused(client, google):
    assert_401(sign_in(client, google.id_token(email_verified=False)))


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "someone-else.apps.googleusercontent.com"},
        {"iss": "https://evil.example.com"},
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
        {"sub": None},
    ],
    ids=["wrong-audience", "wrong-issuer", "expired", "no-subject"],
)
def test_bad_claims_are_401(client, google, claims):
    assert_401(sign_in(client, google.id_token(**claims)))


def test_token_signed_by_another_key_is_401(client, google):
    assert_401(sign_in(client, google.id_token(key=new_key())))
    assert_401(sign_in(client, google.id_token(key=new_key(), kid="unknown-kid")))


def test_alg_none_token_is_401(client, google):
    assert_401(sign_in(client, google.unsigned_token()))


def test_hs256_token_keyed_with_the_public_key_is_401(client, google):
    """The classic RS256 to HS256 confusion: an HMAC keyed with the public key's PEM bytes."""
    pem = google.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": google.kid}).encode())
    body = b64(json.dumps(google.claims()).encode())
    sig = hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    assert_401(sign_in(client, f"{head}.{body}.{b64(sig)}"))


def test_garbage_token_is_401(client, google):
    assert_401(sign_in(client, "this-is-not-a-jwt-at-all"))


def test_missing_token_is_400(client, google):
    res = client.post("/api/auth/google", json={"credential": google.id_token()})
    assert res.status_code == 400 and res.get_json()["code"] == "VALIDATION_ERROR"


def test_google_not_configured_is_503(client, settings_override):
    settings_override(google_client_id="")
    res = sign_in(client, "x" * 40)
    body = res.get_json()
    assert res.status_code == 503, body
    assert body["code"] == "SERVICE_UNAVAILABLE"


def test_unreachable_jwks_is_503(client, settings_override):
    settings_override(
        google_client_id="test-client.apps.googleusercontent.com",
        google_jwks_url=f"http://127.0.0.1:{free_port()}/certs",
    )
    with FakeGoogle() as fake:
        token = fake.id_token()
    res = sign_in(client, token)
    assert res.status_code == 503, res.get_json()
    assert res.get_json()["code"] == "SERVICE_UNAVAILABLE"
