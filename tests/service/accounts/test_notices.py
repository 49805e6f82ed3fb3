"""Security notices by mail (password changed, new API key, sign out everywhere), one per event,
and why a session ended: a 401 says it in `details.reason`; a wrong password is never a 401."""

from __future__ import annotations

from common.mail import outbox
from common.mail.models import Mail
from common.users.models import User
from tests.fakes.smtp import text_of
from tests.support.http import auth

PASSWORD = "correct-horse-1"


def send_pending() -> None:
    for mail in Mail.objects(status="pending"):
        outbox.deliver(mail.key)


def reason(client, token: str) -> tuple[int, str | None]:
    res = client.get("/api/auth/me", headers=auth(token))
    return res.status_code, (res.get_json().get("details") or {}).get("reason")


def test_a_password_change_mails_a_notice_and_names_why_other_sessions_ended(
    client, smtp, make_user
):
    _, token = make_user(email="ann@example.com", name="Ann")
    body = {"currentPassword": PASSWORD, "newPassword": "battery-staple-horse-9"}
    res = client.put("/api/user/password", json=body, headers=auth(token))
    assert res.status_code == 200
    assert reason(client, token) == (401, "PASSWORD_CHANGED")
    assert reason(client, res.get_json()["data"]["token"]) == (200, None)
    send_pending()
    notice = smtp.wait_for("ann@example.com", "password_changed")
    assert notice["Subject"] == "Your AI Pasta password was changed"
    assert "http://localhost:5000/forgot-password" in text_of(notice)


def test_sign_out_everywhere_mails_once_per_sign_out(client, smtp, make_user):
    _, token = make_user(email="ann@example.com")
    for route in ("/api/user/logout-all", "/api/auth/logout-all"):
        assert client.post(route, headers=auth(token)).status_code == 200
        assert reason(client, token) == (401, "SIGNED_OUT_EVERYWHERE")
        token = client.post(
            "/api/auth/login", json={"email": "ann@example.com", "password": PASSWORD}
        ).get_json()["data"]["token"]
    assert Mail.objects(kind="signed_out_everywhere").count() == 2
    send_pending()
    smtp.wait_for("ann@example.com", "signed_out_everywhere", count=2)


def test_a_new_api_key_mails_a_notice(client, smtp, make_user):
    _, token = make_user(email="ann@example.com")
    res = client.post("/api/user/api-keys", json={"name": "my script"}, headers=auth(token))
    assert res.status_code == 201
    send_pending()
    notice = smtp.wait_for("ann@example.com", "api_key_created")
    text = text_of(notice)
    assert '"my script"' in text and res.get_json()["data"]["key"]["prefix"] in text
    assert "http://localhost:5000/account/api-keys" in text


def test_why_a_token_stopped_working(client, make_user):
    user, token = make_user()
    assert reason(client, "not.a.jwt") == (401, "TOKEN_INVALID")
    assert client.get("/api/auth/me").get_json()["details"]["reason"] == "NO_TOKEN"
    other = client.post(
        "/api/auth/login", json={"email": user["email"], "password": PASSWORD}
    ).get_json()["data"]["token"]
    assert client.post("/api/auth/logout", headers=auth(other)).status_code == 200
    assert reason(client, other) == (401, "LOGGED_OUT")
    User.objects(id=user["id"]).update_one(set__isActive=False)
    assert reason(client, token) == (401, "ACCOUNT_DISABLED")


def test_a_wrong_password_never_ends_the_session(client, make_user):
    _, token = make_user()
    for method, path, body, field in (
        (
            "put",
            "/api/user/password",
            {"currentPassword": "nope", "newPassword": "x" * 12},
            "currentPassword",
        ),
        ("delete", "/api/user", {"password": "nope", "confirm": "DELETE"}, "password"),
        ("put", "/api/user/email", {"newEmail": "n@example.com", "password": "nope"}, "password"),
    ):
        res = getattr(client, method)(path, json=body, headers=auth(token))
        got = res.get_json()
        assert (res.status_code, got["code"], got["details"]["field"]) == (
            400,
            "WRONG_PASSWORD",
            field,
        ), path
        assert reason(client, token) == (200, None)
