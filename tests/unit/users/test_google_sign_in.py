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


def test_existing_password_account_is_linked(client, google, make_user):
    user, _ = make_user(email="ann@example.com")
    res = sign_in(client, google.id_token())
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["data"]["user"]["id"] == user["id"]
    assert res.get_json()["data"]["user"]["tokens"]["balance"] == 10_000
    assert User.objects.get(id=user["id"]).googleId == "1098765432101234567890"
    login = {"email": "ann@example.com", "password": "correct-horse-1"}
    assert client.post("/api/auth/login", json=login).status_code == 200


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
