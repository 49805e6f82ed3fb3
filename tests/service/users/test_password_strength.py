"""Weak and common passwords are refused wherever a password is set: sign-up, password change,
and the admins the CLI creates. zxcvbn decides; the message says what to do instead."""

from __future__ import annotations

import pytest

from common.users.models import User
from tests.support.http import auth

WEAK = ["password", "12345678", "Password1", "qwertyuiop", "iloveyou123", "aaaaaaaaaaaa"]
STRONG = "correct-horse-1"  # the suite's fixture password stays acceptable


def assert_weak_refused(res, field: str) -> dict:
    body = res.get_json()
    assert res.status_code == 400, body
    assert body["code"] == "VALIDATION_ERROR", body
    assert body["message"].startswith(f"{field}: this password is too easy to guess."), body
    assert body["details"]["field"] == field and body["details"]["reason"] == "WEAK_PASSWORD"
    assert body["details"]["score"] < body["details"]["minScore"]
    return body


@pytest.mark.parametrize("password", WEAK)
def test_register_refuses_common_passwords(client, password):
    body = {"email": "ann@example.com", "password": password, "name": "Ann"}
    assert_weak_refused(client.post("/api/auth/register", json=body), "password")
    assert User.objects.count() == 0


def test_the_message_helps(client):
    body = {"email": "ann@example.com", "password": "password", "name": "Ann"}
    res = assert_weak_refused(client.post("/api/auth/register", json=body), "password")
    assert "common password" in res["message"]  # zxcvbn's warning, passed on


def test_a_password_made_of_the_users_own_email_is_weak(client):
    body = {
        "email": "annabel.lee@example.com",
        "password": "annabel.lee@example.com",
        "name": "Ann",
    }
    assert_weak_refused(client.post("/api/auth/register", json=body), "password")
    ok = {"email": "annabel.lee@example.com", "password": STRONG, "name": "Ann"}
    assert client.post("/api/auth/register", json=ok).status_code == 201


@pytest.mark.parametrize("password", WEAK)
def test_password_change_refuses_common_passwords(client, make_user, password):
    _, token = make_user(email="ann@example.com")
    res = client.put(
        "/api/user/password",
        json={"currentPassword": STRONG, "newPassword": password},
        headers=auth(token),
    )
    assert_weak_refused(res, "newPassword")
    login = {"email": "ann@example.com", "password": STRONG}
    assert client.post("/api/auth/login", json=login).status_code == 200


def test_cli_admin_creation_refuses_common_passwords(app):
    cli = app.test_cli_runner()
    res = cli.invoke(
        args=["create-admin", "--email", "boss@example.com", "--password", "Password1"]
    )
    assert res.exit_code != 0
    assert "too easy to guess" in res.output
    assert User.objects.count() == 0
