"""The management commands through Flask's CLI runner: create-admin, grant-tokens, reset-db,
reconcile."""

from __future__ import annotations

import pytest

from common.audit.models import AuditLog
from common.stored import object_id
from common.users.models import User
from common.wallet import service as wallet
from common.wallet.models import LedgerEntry


@pytest.fixture
def cli(app):
    return app.test_cli_runner()


def test_create_admin_non_interactive_then_promote(cli, client, make_user):
    res = cli.invoke(
        args=[
            "create-admin",
            "--email",
            "Boss@Example.com",
            "--name",
            "Boss",
            "--password",
            "boss-pass-123",
        ]
    )
    assert res.exit_code == 0, res.output
    assert "Created admin boss@example.com" in res.output
    boss = User.objects.get(email="boss@example.com")
    assert (boss.role, boss.tokens.balance) == ("admin", 10_000)
    login = client.post(
        "/api/auth/login", json={"email": "boss@example.com", "password": "boss-pass-123"}
    )
    assert login.get_json()["data"]["user"]["role"] == "admin"

    user, _ = make_user(email="worker@example.com")
    res = cli.invoke(
        args=["create-admin", "--email", "worker@example.com", "--password", "ignored-pass"]
    )
    assert res.exit_code == 0 and "Promoted" in res.output
    assert User.objects.get(id=user["id"]).role == "admin"


def test_create_admin_prompts_and_checks_the_password(cli):
    res = cli.invoke(args=["create-admin"], input="ann@example.com\nshort\nshort\n")
    assert res.exit_code != 0
    assert "at least 8" in res.output
    assert User.objects.count() == 0
    res = cli.invoke(args=["create-admin"], input="ann@example.com\nlong-enough-1\nlong-enough-1\n")
    assert res.exit_code == 0, res.output
    assert User.objects.get(email="ann@example.com").role == "admin"


def test_grant_tokens_credits_once_per_key(cli, make_user):
    user, _ = make_user(email="rich@example.com")
    res = cli.invoke(args=["grant-tokens", "rich@example.com", "2500", "--key", "support-42"])
    assert res.exit_code == 0, res.output
    assert "Granted 2500" in res.output and "balance 12500" in res.output
    res = cli.invoke(args=["grant-tokens", "rich@example.com", "2500", "--key", "support-42"])
    assert res.exit_code == 0 and "Already granted" in res.output
    doc = User.objects.get(id=user["id"])
    assert (doc.tokens.balance, doc.tokens.purchasedTokens, doc.credits) == (12_500, 2_500, 12_500)
    # The admin API's grant use case: its key prefix, source and audit record.
    entry = LedgerEntry.objects.get(key=f"admin-grant-{user['id']}-support-42")
    assert (entry.kind, entry.amount, entry.source) == ("credit", 2_500, "admin")
    assert AuditLog.objects.get(action="tokens.grant").adminId == "cli"
    # Without a key, each run is a new grant.
    assert cli.invoke(args=["grant-tokens", "rich@example.com", "10"]).exit_code == 0
    assert User.objects.get(id=user["id"]).tokens.balance == 12_510


def test_grant_tokens_refuses_bad_input(cli, make_user):
    make_user(email="rich@example.com")
    assert cli.invoke(args=["grant-tokens", "nobody@example.com", "10"]).exit_code != 0
    assert cli.invoke(args=["grant-tokens", "rich@example.com", "0"]).exit_code != 0
    assert cli.invoke(args=["grant-tokens", "rich@example.com", "-5"]).exit_code != 0
    assert cli.invoke(args=["grant-tokens", "rich@example.com", "ten"]).exit_code != 0
    assert User.objects.get(email="rich@example.com").tokens.balance == 10_000


def test_reset_db_asks_first(cli, make_user, client):
    make_user(email="keep@example.com")
    res = cli.invoke(args=["reset-db"], input="n\n")
    assert res.exit_code != 0 and "Aborted" in res.output
    assert User.objects.count() == 1
    res = cli.invoke(args=["reset-db"], input="y\n")
    assert res.exit_code == 0, res.output
    assert User.objects.count() == 0
    # The unique indexes are back: a duplicate email is still refused.
    make_user(email="keep@example.com")
    body = {"email": "keep@example.com", "password": "correct-horse-1", "name": "Again"}
    assert client.post("/api/auth/register", json=body).status_code == 409


def test_reconcile_exit_status(cli, make_user):
    user, _ = make_user(email="ok@example.com")
    wallet.reserve(user["id"], 300, "msg-1")
    wallet.settle(user["id"], "msg-1", 120)
    res = cli.invoke(args=["reconcile"])
    assert res.exit_code == 0, res.output
    assert "OK: 1 users" in res.output
    User.objects(id=user["id"]).update_one(inc__tokens__balance=1_000, inc__credits=1_000)
    res = cli.invoke(args=["reconcile"])
    assert res.exit_code == 1, res.output
    assert "MISMATCH ok@example.com" in res.output and "balance" in res.output


def test_reconcile_finishes_pending_entries_first(cli, make_user):
    user, _ = make_user(email="ok@example.com")
    wallet._entry_for("pay-crashed", object_id(user["id"]), "credit", 0, 700, "razorpay", None)
    res = cli.invoke(args=["reconcile"])
    assert res.exit_code == 0, res.output
    assert "Finished 1 pending" in res.output
    assert User.objects.get(id=user["id"]).tokens.balance == 10_700


def test_create_admin_with_a_bad_email_is_a_clear_error(cli):
    res = cli.invoke(
        args=["create-admin", "--email", "not-an-email", "--password", "long-enough-1"]
    )
    assert res.exit_code == 1
    assert "Error:" in res.output and "Traceback" not in res.output
    assert User.objects.count() == 0


def test_migrate_verified_emails(cli, make_user):
    from common.mail.models import Mail

    old, _ = make_user(verified=False)
    linked, _ = make_user(verified=False)
    User.objects(id=linked["id"]).update_one(set__googleId="g-42")
    Mail.objects.delete()
    res = cli.invoke(args=["migrate-verified-emails"])
    assert res.exit_code == 0, res.output
    assert "Verified 1 Google-linked accounts; 1 accounts are unverified." in res.output
    assert Mail.objects.count() == 0
    res = cli.invoke(args=["migrate-verified-emails", "--send-links"])
    assert (
        "Verified 0 Google-linked accounts; 1 accounts are unverified, 1 links queued" in res.output
    )
    assert [m.to for m in Mail.objects(kind="verify_email")] == [old["email"]]
