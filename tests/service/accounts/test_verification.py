"""Verified addresses through the API, a real SMTP server on loopback, nx-27017 and Redis:
sign-up mails a 24-hour single-use link; what needs a confirmed address says so (403
EMAIL_NOT_VERIFIED) until the link is opened; "resend"; Google vouches; changing the address is
confirmed from the new one and announced to the old one; the migration of older accounts."""

from __future__ import annotations

import time

from common.accounts import verification
from common.mail import outbox
from common.mail.models import Mail
from common.users import service as users
from common.users.models import User
from common.users.onetime import OneTimeToken
from tests.fakes.smtp import text_of, token_of
from tests.support.apps import fresh_app
from tests.support.http import auth

PASSWORD = "correct-horse-1"


def sent(smtp, to: str, kind: str, count: int = 1):
    """Deliver what is queued for `to` (as the workers would) and wait for mail `count`."""
    for mail in Mail.objects(to=to, kind=kind, status="pending"):
        outbox.deliver(mail.key)
    return smtp.wait_for(to, kind, count)


def confirm(client, token: str):
    return client.post("/api/auth/verify-email", json={"token": token})


def test_sign_up_mails_a_link_and_the_snapshot_says_unconfirmed(client, smtp, make_user):
    user, token = make_user(email="ann@example.com", name="Ann", verified=False)
    assert user["emailVerified"] is False
    me = client.get("/api/auth/me", headers=auth(token)).get_json()["data"]["user"]
    assert me["emailVerified"] is False
    message = sent(smtp, "ann@example.com", "verify_email")
    assert message["Subject"] == "Confirm your email address for AI Pasta"
    body = text_of(message)
    assert "for 24 hours" in body and "http://localhost:5000/verify-email#token=" in body
    assert "free models right away" in body
    record = OneTimeToken.objects.get(purpose="verify")
    assert abs(record.expiresAt - time.time() - 24 * 3600) < 60


def test_what_needs_a_confirmed_address_says_so_until_the_link_is_opened(client, smtp, make_user):
    _, token = make_user(email="ann@example.com", verified=False)
    headers = auth(token)
    key = client.post("/api/user/api-keys", json={"name": "k"}, headers=headers)
    change = client.put(
        "/api/user/email",
        json={"newEmail": "new@example.com", "password": PASSWORD},
        headers=headers,
    )
    for res, action in ((key, "api_key"), (change, "change_email")):
        body = res.get_json()
        assert (res.status_code, body["code"]) == (403, "EMAIL_NOT_VERIFIED"), body
        assert body["details"] == {"action": action, "resend": "POST /api/auth/verify-email/resend"}
    link = token_of(sent(smtp, "ann@example.com", "verify_email"))
    res = confirm(client, link)
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["data"] == {"email": "ann@example.com", "emailVerified": True}
    assert confirm(client, link).get_json()["details"]["reason"] == "USED"
    me = client.get("/api/auth/me", headers=headers).get_json()["data"]["user"]
    assert me["emailVerified"] is True
    assert client.post("/api/user/api-keys", json={"name": "k"}, headers=headers).status_code == 201


def test_resend_mails_a_new_link_until_confirmed(client, smtp, make_user):
    _, token = make_user(email="ann@example.com", verified=False)
    res = client.post("/api/auth/verify-email/resend", headers=auth(token))
    assert res.status_code == 202
    assert res.get_json()["data"] == {"email": "ann@example.com", "emailVerified": False}
    sent(smtp, "ann@example.com", "verify_email", count=2)
    first = token_of(smtp.to("ann@example.com", "verify_email")[0])
    assert confirm(client, first).status_code == 200  # either link works, once
    second = token_of(smtp.to("ann@example.com", "verify_email")[1])
    assert confirm(client, second).get_json()["details"]["reason"] == "USED"
    res = client.post("/api/auth/verify-email/resend", headers=auth(token))
    assert res.status_code == 200 and res.get_json()["data"]["emailVerified"] is True
    assert client.post("/api/auth/verify-email/resend").status_code == 401


def test_resend_is_rate_limited_per_user(base_settings):
    with fresh_app(base_settings, rate_limit_resend="2/hour") as app:
        client = app.test_client()
        res = client.post(
            "/api/auth/register",
            json={"email": "r@example.com", "password": PASSWORD, "name": "R"},
        )
        headers = auth(res.get_json()["data"]["token"])
        codes = [
            client.post("/api/auth/verify-email/resend", headers=headers).status_code
            for _ in range(3)
        ]
        assert codes == [202, 202, 429]


def test_an_expired_confirmation_link_is_refused(client, smtp, make_user):
    make_user(email="ann@example.com", verified=False)
    link = token_of(sent(smtp, "ann@example.com", "verify_email"))
    OneTimeToken.objects(purpose="verify").update(set__expiresAt=time.time() - 1)
    res = confirm(client, link)
    assert (res.status_code, res.get_json()["details"]["reason"]) == (400, "EXPIRED")
    assert User.objects.get(email="ann@example.com").emailVerified is False


def test_google_counts_as_confirmed_when_google_says_so(client, make_user):
    claims = {"sub": "g-7", "email": "gia@example.com", "email_verified": True, "name": "Gia"}
    assert users.sign_in_with_google(claims).emailVerified is True
    # A password account linking Google (for its own address) is confirmed by Google too.
    user, _ = make_user(email="ann@example.com", verified=False)
    account = User.objects.get(id=user["id"])
    users.link_google(account, {**claims, "sub": "g-8", "email": "ann@example.com"})
    assert User.objects.get(id=user["id"]).emailVerified is True


def test_changing_the_address_is_confirmed_from_the_new_one_and_told_to_the_old(
    client, smtp, make_user
):
    user, token = make_user(email="ann@example.com", name="Ann")
    headers = auth(token)
    body = {"newEmail": "Ann.New@example.com", "password": "wrong-password"}
    wrong = client.put("/api/user/email", json=body, headers=headers)
    assert (wrong.status_code, wrong.get_json()["code"]) == (400, "WRONG_PASSWORD")
    make_user(email="taken@example.com")
    taken = client.put(
        "/api/user/email",
        json={"newEmail": "taken@example.com", "password": PASSWORD},
        headers=headers,
    )
    assert taken.status_code == 409
    body["password"] = PASSWORD
    res = client.put("/api/user/email", json=body, headers=headers)
    assert res.status_code == 202, res.get_json()
    assert res.get_json()["data"] == {
        "email": "ann@example.com",
        "pendingEmail": "ann.new@example.com",
    }
    assert User.objects.get(id=user["id"]).email == "ann@example.com"  # not until confirmed
    message = sent(smtp, "ann.new@example.com", "confirm_new_email")
    assert "from ann@example.com to" in text_of(message)
    link = token_of(message)
    res = client.post("/api/auth/confirm-email", json={"token": link})
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["data"] == {"email": "ann.new@example.com", "emailVerified": True}
    notice = sent(smtp, "ann@example.com", "email_changed")
    assert "ann.new@example.com" in text_of(notice)
    assert client.post("/api/auth/confirm-email", json={"token": link}).status_code == 400
    login = {"email": "ann.new@example.com", "password": PASSWORD}
    assert client.post("/api/auth/login", json=login).status_code == 200
    login["email"] = "ann@example.com"
    assert client.post("/api/auth/login", json=login).status_code == 401
    assert client.get("/api/auth/me", headers=headers).status_code == 200  # still signed in


def test_a_change_link_loses_to_an_account_that_took_the_address_meanwhile(client, smtp, make_user):
    _, token = make_user(email="ann@example.com")
    body = {"newEmail": "new@example.com", "password": PASSWORD}
    assert client.put("/api/user/email", json=body, headers=auth(token)).status_code == 202
    link = token_of(sent(smtp, "new@example.com", "confirm_new_email"))
    make_user(email="new@example.com")
    res = client.post("/api/auth/confirm-email", json={"token": link})
    assert (res.status_code, res.get_json()["code"]) == (409, "CONFLICT")


def test_migration_confirms_google_accounts_and_can_mail_the_others(smtp, make_user):
    legacy, _ = make_user(email="old@example.com", verified=False)
    linked, _ = make_user(email="linked@example.com", verified=False)
    User.objects(id=linked["id"]).update_one(set__googleId="g-99")
    Mail.objects.delete()
    assert verification.migrate() == {"googleVerified": 1, "unverified": 1, "linksQueued": 0}
    assert User.objects.get(id=linked["id"]).emailVerified is True
    assert verification.migrate(send_links=True) == {
        "googleVerified": 0,
        "unverified": 1,
        "linksQueued": 1,
    }
    assert [m.to for m in Mail.objects(kind="verify_email")] == ["old@example.com"]
