"""User management: list, detail, (de)activation, roles, token grants/deductions/resets, audit."""

from __future__ import annotations

from bson import ObjectId

from common.audit.models import AuditLog
from common.users.models import User
from common.wallet import service as wallet
from common.wallet.models import LedgerEntry
from common.wallet.reconcile import reconcile
from tests.support.http import auth
from tests.support.seed import make_message, make_session


def _audits(action: str) -> list[AuditLog]:
    return list(AuditLog.objects(action=action))


# -- list and detail ---------------------------------------------------------------------------


def test_list_search_filter_sort_and_paginate(client, admin, make_user):
    _, headers = admin
    alice, _ = make_user(email="alice@example.com", name="Alice Smith")
    make_user(email="bob@example.com", name="Bob Jones")
    carol, _ = make_user(email="carol@corp.example.org", name="Carol Smith")
    User.objects(id=carol["id"]).update_one(set__isActive=False, set__subscription__plan="pro")

    res = client.get("/api/admin/users?q=smith&sort=email&order=asc", headers=headers)
    data = res.get_json()["data"]
    assert res.status_code == 200
    assert [u["email"] for u in data["users"]] == ["alice@example.com", "carol@corp.example.org"]
    assert data["pagination"] == {"page": 1, "limit": 20, "total": 2, "pages": 1}

    page = client.get("/api/admin/users?sort=email&order=asc&limit=2&page=2", headers=headers)
    data = page.get_json()["data"]
    assert [u["email"] for u in data["users"]] == ["carol@corp.example.org", admin[0]["email"]]
    assert data["pagination"]["total"] == 4 and data["pagination"]["pages"] == 2

    def emails(query: str) -> list[str]:
        res = client.get(f"/api/admin/users?{query}&sort=email&order=asc", headers=headers)
        assert res.status_code == 200, res.get_json()
        return [u["email"] for u in res.get_json()["data"]["users"]]

    assert emails("active=false") == ["carol@corp.example.org"]
    assert emails("plan=pro") == ["carol@corp.example.org"]
    assert emails("role=admin") == [admin[0]["email"]]
    assert emails("q=CORP.EXAMPLE") == ["carol@corp.example.org"]
    # Search text is literal, never a pattern.
    assert emails("q=.%2A") == []
    assert emails("q=alice%40example.com") == [alice["email"]]


def test_list_sorts_by_balance_and_usage(client, admin, make_user):
    _, headers = admin
    rich, _ = make_user(email="rich@example.com")
    busy, _ = make_user(email="busy@example.com")
    wallet.credit(rich["id"], 500, "test-credit-rich", "test")
    User.objects(id=busy["id"]).update_one(set__usage__totalTokens=999)

    by_balance = client.get("/api/admin/users?sort=tokens.balance", headers=headers)
    assert by_balance.get_json()["data"]["users"][0]["email"] == "rich@example.com"
    by_usage = client.get("/api/admin/users?sort=usage", headers=headers)
    assert by_usage.get_json()["data"]["users"][0]["email"] == "busy@example.com"


def test_list_rejects_bad_query(client, admin):
    _, headers = admin
    for query in ("sort=password", "limit=0", "limit=101", "page=0", "role=root", "active=maybe"):
        res = client.get(f"/api/admin/users?{query}", headers=headers)
        assert res.status_code == 400, query
        assert res.get_json()["code"] == "VALIDATION_ERROR"


def test_detail_has_wallet_holds_ledger_and_sessions(client, admin, make_user):
    _, headers = admin
    user, _ = make_user()
    wallet.reserve(user["id"], 300, "hold-test-1")
    session = make_session(user["id"], title="About pasta")
    make_message(session)

    res = client.get(f"/api/admin/users/{user['id']}", headers=headers)
    data = res.get_json()["data"]
    assert res.status_code == 200
    assert data["user"]["email"] == user["email"] and data["user"]["isActive"] is True
    assert data["wallet"]["balance"] == 9_700 and data["wallet"]["reserved"] == 300
    assert data["wallet"]["holds"] == [
        {
            "key": "hold-test-1",
            "amount": 300,
            "free": 300,
            "purchased": 0,
            "at": data["wallet"]["holds"][0]["at"],
        }
    ]
    assert [e["kind"] for e in data["ledger"]] == ["grant"]
    assert data["ledger"][0]["amount"] == 10_000
    assert [s["title"] for s in data["sessions"]] == ["About pasta"]


def test_detail_unknown_user_is_404(client, admin):
    _, headers = admin
    for user_id in (str(ObjectId()), "not-an-id"):
        res = client.get(f"/api/admin/users/{user_id}", headers=headers)
        assert res.status_code == 404 and res.get_json()["code"] == "NOT_FOUND"


# -- activation and roles ----------------------------------------------------------------------


def test_deactivation_cuts_off_an_existing_token_at_once(client, admin, make_user):
    admin_user, headers = admin
    user, token = make_user()
    assert client.get("/api/auth/me", headers=auth(token)).status_code == 200

    res = client.post(
        f"/api/admin/users/{user['id']}/deactivate", json={"reason": "spam"}, headers=headers
    )
    assert res.status_code == 200
    assert res.get_json()["data"]["user"]["isActive"] is False
    cut = client.get("/api/auth/me", headers=auth(token))
    assert cut.status_code == 401 and cut.get_json()["code"] == "UNAUTHORIZED"
    login = client.post(
        "/api/auth/login", json={"email": user["email"], "password": "correct-horse-1"}
    )
    assert login.status_code == 401

    [entry] = _audits("user.deactivate")
    assert entry.adminId == admin_user["id"] and entry.adminEmail == admin_user["email"]
    assert entry.targetType == "user" and entry.targetId == user["id"]
    assert entry.before["isActive"] is True
    assert entry.after == {"role": "user", "isActive": False, "deactivatedReason": "spam"}
    assert entry.ip == "127.0.0.1" and entry.createdAt is not None

    back = client.post(f"/api/admin/users/{user['id']}/activate", headers=headers)
    assert back.status_code == 200 and back.get_json()["data"]["user"]["isActive"] is True
    assert client.get("/api/auth/me", headers=auth(token)).status_code == 200
    assert _audits("user.activate")[0].after["isActive"] is True


def test_admin_cannot_deactivate_ban_or_demote_themselves(client, admin):
    me, headers = admin
    for path, body in (
        ("deactivate", {}),
        ("ban", {"reason": "oops"}),
    ):
        res = client.post(f"/api/admin/users/{me['id']}/{path}", json=body, headers=headers)
        assert res.status_code == 403 and res.get_json()["code"] == "FORBIDDEN"
    res = client.patch(f"/api/admin/users/{me['id']}/role", json={"role": "user"}, headers=headers)
    assert res.status_code == 403
    assert User.objects(id=me["id"]).first().role == "admin"
    assert User.objects(id=me["id"]).first().isActive is True
    assert AuditLog.objects.count() == 0


def test_change_role_takes_effect_on_the_next_request(client, admin, make_user):
    _, headers = admin
    user, token = make_user()
    res = client.patch(
        f"/api/admin/users/{user['id']}/role", json={"role": "admin"}, headers=headers
    )
    assert res.status_code == 200 and res.get_json()["data"]["user"]["role"] == "admin"
    assert client.get("/api/admin/users", headers=auth(token)).status_code == 200

    client.patch(f"/api/admin/users/{user['id']}/role", json={"role": "user"}, headers=headers)
    assert client.get("/api/admin/users", headers=auth(token)).status_code == 403
    roles = [
        (e.before["role"], e.after["role"])
        for e in AuditLog.objects(action="user.role").order_by("createdAt")
    ]
    assert roles == [("user", "admin"), ("admin", "user")]

    bad = client.patch(
        f"/api/admin/users/{user['id']}/role", json={"role": "root"}, headers=headers
    )
    assert bad.status_code == 400 and bad.get_json()["code"] == "VALIDATION_ERROR"


# -- tokens ------------------------------------------------------------------------------------


def test_grant_is_a_ledger_entry_audited_and_idempotent(client, admin, make_user):
    admin_user, headers = admin
    user, _ = make_user()
    body = {"amount": 2_500, "reason": "support goodwill", "idempotencyKey": "ticket-4711"}
    url = f"/api/admin/users/{user['id']}/tokens/grant"

    res = client.post(url, json=body, headers=headers)
    data = res.get_json()["data"]
    assert res.status_code == 201, data
    assert data["wallet"]["balance"] == 12_500 and data["wallet"]["purchasedTokens"] == 2_500
    assert data["replayed"] is False

    again = client.post(url, json=body, headers=headers)
    assert again.status_code == 200 and again.get_json()["data"]["replayed"] is True
    assert User.objects(id=user["id"]).first().tokens.balance == 12_500

    [entry] = LedgerEntry.objects(kind="credit", source="admin")
    assert entry.amount == 2_500 and entry.purchased == 2_500
    assert entry.details == {"reason": "support goodwill", "admin": admin_user["email"]}
    [log] = _audits("tokens.grant")
    assert log.before["balance"] == 10_000 and log.after["balance"] == 12_500
    assert log.after["reason"] == "support goodwill" and log.after["key"] == entry.key

    other = client.post(url, json={**body, "amount": 3}, headers=headers)
    assert other.status_code == 409 and other.get_json()["code"] == "CONFLICT"
    assert reconcile() == []


def test_grant_without_key_grants_each_time(client, admin, make_user):
    _, headers = admin
    user, _ = make_user()
    url = f"/api/admin/users/{user['id']}/tokens/grant"
    for _ in range(2):
        assert (
            client.post(url, json={"amount": 10, "reason": "r"}, headers=headers).status_code == 201
        )
    assert User.objects(id=user["id"]).first().tokens.balance == 10_020
    assert reconcile() == []


def test_grant_and_deduct_reject_bad_bodies(client, admin, make_user):
    _, headers = admin
    user, _ = make_user()
    for action in ("grant", "deduct"):
        url = f"/api/admin/users/{user['id']}/tokens/{action}"
        for body in (
            {"amount": 0, "reason": "r"},
            {"amount": -5, "reason": "r"},
            {"amount": "10", "reason": "r"},
            {"amount": 10},
            {"amount": 10, "reason": ""},
            {"amount": 10, "reason": "r", "idempotencyKey": "bad.key"},
            {"amount": {"$gt": 0}, "reason": "r"},
        ):
            res = client.post(url, json=body, headers=headers)
            assert res.status_code == 400, (action, body)
            assert res.get_json()["code"] == "VALIDATION_ERROR"
    assert User.objects(id=user["id"]).first().tokens.balance == 10_000
    assert LedgerEntry.objects.count() == 2  # the two sign-up grants
    assert AuditLog.objects.count() == 0


def test_deduct_takes_free_first_all_or_nothing(client, admin, make_user):
    _, headers = admin
    user, _ = make_user()
    wallet.credit(user["id"], 1_000, "test-credit-1", "test")
    url = f"/api/admin/users/{user['id']}/tokens/deduct"

    res = client.post(url, json={"amount": 10_500, "reason": "chargeback"}, headers=headers)
    data = res.get_json()["data"]
    assert res.status_code == 201, data
    assert data["amount"] == 10_500
    assert data["wallet"]["freeTokens"] == 0 and data["wallet"]["purchasedTokens"] == 500

    too_much = client.post(url, json={"amount": 501, "reason": "again"}, headers=headers)
    assert too_much.status_code == 402 and too_much.get_json()["code"] == "INSUFFICIENT_TOKENS"
    assert too_much.get_json()["details"]["available"] == 500
    assert User.objects(id=user["id"]).first().tokens.balance == 500

    [entry] = LedgerEntry.objects(kind="debit")
    assert (entry.amount, entry.free, entry.purchased) == (-10_500, -10_000, -500)
    [log] = _audits("tokens.deduct")
    assert log.before["balance"] == 11_000 and log.after["balance"] == 500
    assert reconcile() == []


def test_deduct_replay_with_the_same_key_takes_once(client, admin, make_user):
    _, headers = admin
    user, _ = make_user()
    url = f"/api/admin/users/{user['id']}/tokens/deduct"
    body = {"amount": 100, "reason": "dup", "idempotencyKey": "dedupe-0001"}
    assert client.post(url, json=body, headers=headers).status_code == 201
    again = client.post(url, json=body, headers=headers)
    assert again.status_code == 200 and again.get_json()["data"]["replayed"] is True
    assert User.objects(id=user["id"]).first().tokens.balance == 9_900
    assert len(_audits("tokens.deduct")) == 1
    assert reconcile() == []


def _spend(user_id: str, amount: int, key: str) -> None:
    wallet.reserve(user_id, amount, key)
    wallet.settle(user_id, key, amount)


def test_reset_tops_the_free_pool_up_counting_held_tokens(client, admin, make_user):
    _, headers = admin
    user, _ = make_user()
    _spend(user["id"], 4_000, "chat-msg-1")
    wallet.reserve(user["id"], 1_000, "chat-msg-2")  # still streaming
    wallet.credit(user["id"], 700, "test-credit-2", "test")

    res = client.post(f"/api/admin/users/{user['id']}/tokens/reset", headers=headers)
    data = res.get_json()["data"]
    assert res.status_code == 200, data
    assert data["amount"] == 4_000
    assert data["wallet"]["freeTokens"] == 9_000 and data["wallet"]["reserved"] == 1_000
    assert data["wallet"]["purchasedTokens"] == 700

    wallet.release(user["id"], "chat-msg-2")
    assert User.objects(id=user["id"]).first().tokens.freeTokens == 10_000
    [entry] = LedgerEntry.objects(kind="reset")
    assert entry.amount == 4_000 and entry.free == 4_000
    assert _audits("tokens.reset")[0].after["amount"] == 4_000

    full = client.post(f"/api/admin/users/{user['id']}/tokens/reset", headers=headers)
    assert full.get_json()["data"]["amount"] == 0
    assert len(_audits("tokens.reset")) == 1
    assert reconcile() == []


def test_upgrade_user_tokens_command(app, make_user):
    one, _ = make_user()
    two, _ = make_user()
    _spend(one["id"], 2_000, "chat-a")
    _spend(two["id"], 500, "chat-b")
    runner = app.test_cli_runner()

    single = runner.invoke(args=["upgrade-user-tokens", "--email", two["email"]])
    assert single.exit_code == 0, single.output
    assert "added 500 free tokens" in single.output

    everyone = runner.invoke(args=["upgrade-user-tokens", "--reset-id", "run1"])
    assert everyone.exit_code == 0, everyone.output
    assert "Topped up 1 users with 2000 free tokens" in everyone.output
    again = runner.invoke(args=["upgrade-user-tokens", "--reset-id", "run1"])
    assert "Topped up 0 users with 0 free tokens" in again.output

    for u in (one, two):
        assert User.objects(id=u["id"]).first().tokens.freeTokens == 10_000
    assert {e.adminId for e in AuditLog.objects(action="tokens.reset")} == {"cli"}
    assert reconcile() == []

    missing = runner.invoke(args=["upgrade-user-tokens", "--email", "nobody@example.com"])
    assert missing.exit_code != 0 and "No user" in missing.output
