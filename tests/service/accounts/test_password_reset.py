"""Forgot password → mail → reset, through the API, a real SMTP server on loopback, nx-27017
and Redis: the same 202 for every address, a link that works once and expires, only its hash
stored, every session ended, the user signed in, a Google-only account's first password."""

from __future__ import annotations

import time

from common.accounts import recovery
from common.mail import outbox
from common.mail.models import Mail
from common.users import onetime
from common.users.models import User
from common.users.onetime import OneTimeToken
from tests.fakes.smtp import text_of, token_of
from tests.support.apps import fresh_app
from tests.support.http import auth
from worker.tasks.accounts import send_reset_link

NEW = "battery-staple-horse-9"


def forgot(client, email: str):
    return client.post("/api/auth/forgot-password", json={"email": email})


def mailed_token(smtp, email: str, count: int = 1) -> str:
    """What the worker does for a forgot-password request, then the link's token."""
    assert send_reset_link(email) is True
    return token_of(smtp.wait_for(email, "reset_password", count))


def reset(client, token: str, password: str = NEW):
    return client.post("/api/auth/reset-password", json={"token": token, "password": password})


def test_forgot_password_answers_the_same_for_known_and_unknown_addresses(client, make_user):
    user, _ = make_user(email="known@example.com")
    known, unknown = forgot(client, "Known@Example.com"), forgot(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 202
    assert known.get_json() == unknown.get_json()
    assert known.get_json()["message"].startswith("If an account uses this address")
    # The web decides nothing: no token and no reset mail exist until a worker runs the task.
    assert OneTimeToken.objects(purpose="reset").count() == 0
    assert Mail.objects(kind="reset_password").count() == 0
    assert send_reset_link("nobody@example.com") is False
    assert Mail.objects(kind="reset_password").count() == 0


def test_forgot_password_validates_the_address(client):
    for body in ({}, {"email": "not-an-email"}, {"email": {"$ne": None}}, {"email": ["a@b.cd"]}):
        res = client.post("/api/auth/forgot-password", json=body)
        assert (res.status_code, res.get_json()["code"]) == (400, "VALIDATION_ERROR"), body


def test_the_reset_mail_links_to_the_reset_page_for_30_minutes(smtp, make_user):
    make_user(email="ann@example.com", name="Ann")
    assert send_reset_link("ann@example.com")
    message = smtp.wait_for("ann@example.com", "reset_password")
    assert message["Subject"] == "Reset your AI Pasta password"
    body = text_of(message)
    assert "Hello Ann," in body and "for 30 minutes" in body
    assert "http://localhost:5000/reset-password#token=" in body
    token = token_of(message)
    # Only the hash is kept: not in the token record, and not in the outbox once sent.
    stored = OneTimeToken.objects.get(purpose="reset")
    assert stored.tokenHash == onetime.digest(token) and token not in str(stored.to_mongo())
    assert all(token not in str(m.to_mongo()) for m in Mail.objects)


def test_a_reset_link_sets_the_password_once_ends_every_session_and_signs_in(
    client, smtp, make_user
):
    user, first = make_user(email="ann@example.com", verified=False)
    second = client.post(
        "/api/auth/login", json={"email": "ann@example.com", "password": "correct-horse-1"}
    ).get_json()["data"]["token"]
    token = mailed_token(smtp, "ann@example.com")
    res = reset(client, token)
    assert res.status_code == 200, res.get_json()
    data = res.get_json()["data"]
    assert data["user"]["id"] == user["id"] and data["user"]["emailVerified"] is True
    assert client.get("/api/auth/me", headers=auth(data["token"])).status_code == 200
    for old in (first, second):
        body = client.get("/api/auth/me", headers=auth(old)).get_json()
        assert (body["code"], body["details"]["reason"]) == ("UNAUTHORIZED", "PASSWORD_RESET")
    login = {"email": "ann@example.com", "password": NEW}
    assert client.post("/api/auth/login", json=login).status_code == 200
    login["password"] = "correct-horse-1"
    assert client.post("/api/auth/login", json=login).status_code == 401
    again = reset(client, token, "another-long-phrase-7")
    assert (again.status_code, again.get_json()["details"]["reason"]) == (400, "USED")
    # The owner is told (a security notice), once.
    outbox.deliver(Mail.objects.get(kind="password_changed").key)
    notice = smtp.wait_for("ann@example.com", "password_changed")
    assert notice["Subject"] == "Your AI Pasta password was reset"


def test_a_reset_link_expires(client, smtp, make_user):
    make_user(email="ann@example.com")
    token = mailed_token(smtp, "ann@example.com")
    OneTimeToken.objects(purpose="reset").update(set__expiresAt=time.time() - 1)
    res = reset(client, token)
    assert (res.status_code, res.get_json()["code"]) == (400, "INVALID_LINK")
    assert res.get_json()["details"]["reason"] == "EXPIRED"
    assert (
        client.post(
            "/api/auth/login", json={"email": "ann@example.com", "password": "correct-horse-1"}
        ).status_code
        == 200
    )


def test_unknown_and_mangled_links_are_refused(client):
    for token in ("x" * 43, "not-a-token-at-all"):
        res = reset(client, token)
        assert (res.status_code, res.get_json()["details"]["reason"]) == (400, "INVALID"), token
    res = client.post("/api/auth/reset-password", json={"token": {"$ne": None}, "password": NEW})
    assert res.get_json()["code"] == "VALIDATION_ERROR"


def test_a_weak_password_is_refused_and_the_link_still_works(client, smtp, make_user):
    make_user(email="ann@example.com")
    token = mailed_token(smtp, "ann@example.com")
    weak = reset(client, token, "password1")
    assert (weak.status_code, weak.get_json()["details"]["field"]) == (400, "password")
    assert weak.get_json()["details"]["reason"] == "WEAK_PASSWORD"
    assert reset(client, token).status_code == 200


def test_a_new_password_voids_the_other_reset_links(client, smtp, make_user):
    make_user(email="ann@example.com")
    first = mailed_token(smtp, "ann@example.com")
    second = mailed_token(smtp, "ann@example.com", count=2)
    assert reset(client, second).status_code == 200
    assert reset(client, first).get_json()["details"]["reason"] == "USED"


def test_a_google_only_account_sets_its_first_password_by_reset(client, smtp):
    from common.users import service as users

    claims = {"sub": "g-1", "email": "gia@example.com", "email_verified": True, "name": "Gia"}
    user = users.sign_in_with_google(claims)
    assert user.password is None and user.emailVerified
    token = mailed_token(smtp, "gia@example.com")
    assert reset(client, token).status_code == 200
    login = {"email": "gia@example.com", "password": NEW}
    assert client.post("/api/auth/login", json=login).status_code == 200
    assert User.objects.get(id=user.id).googleId == "g-1"


def test_a_deactivated_account_gets_no_link(smtp, make_user):
    user, _ = make_user(email="ann@example.com")
    User.objects(id=user["id"]).update_one(set__isActive=False)
    assert recovery.send_reset_link("ann@example.com") is None


def test_forgot_password_is_rate_limited_per_address_and_per_client(base_settings):
    with fresh_app(
        base_settings, rate_limit_forgot_email="2/hour", rate_limit_forgot_ip="4/hour"
    ) as app:
        client = app.test_client()
        codes = [forgot(client, "Ann@example.com").status_code for _ in range(3)]
        assert codes == [202, 202, 429]  # the same address, however it is spelled
        res = forgot(client, "ann@example.com")
        assert res.get_json()["code"] == "RATE_LIMITED" and "Retry-After" in res.headers
        # An unknown address is limited the same way (no oracle there either).
        assert [forgot(client, "nobody@example.com").status_code for _ in range(2)] == [202, 202]
        assert forgot(client, "third@example.com").status_code == 429  # the client's 4 an hour
