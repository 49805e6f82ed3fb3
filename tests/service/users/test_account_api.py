"""`/api/user` account routes over the Flask test client: preferences, sign out everywhere,
delete the account, the usage and ledger of the caller, the public config."""

from __future__ import annotations

from bson import ObjectId

from common.conversations.models import ChatMessage, ChatSession
from common.users.models import User
from common.wallet import service as wallet
from common.wallet.models import LedgerEntry
from common.wallet.reconcile import reconcile
from tests.service.users.test_auth_api import PASSWORD, error_of
from tests.support.http import auth


def test_preferences_keep_temperature_and_max_tokens(client, make_user):
    _, token = make_user()
    prefs = {"theme": "dark", "temperature": 0.3, "maxTokens": 900, "defaultModels": ["m/a"]}
    res = client.put("/api/user/profile", json={"preferences": prefs}, headers=auth(token))
    assert res.status_code == 200, res.get_json()
    got = client.get("/api/user/profile", headers=auth(token)).get_json()["data"]["user"]
    assert {k: got["preferences"][k] for k in prefs} == prefs
    assert (got["hasPassword"], got["googleLinked"]) == (True, False)


def test_bad_preferences_are_400(client, make_user):
    _, token = make_user()
    for prefs in ({"temperature": 3}, {"maxTokens": 0}, {"maxTokens": 999_999}, {"theme": "x"}):
        res = client.put("/api/user/profile", json={"preferences": prefs}, headers=auth(token))
        error_of(res, 400, "VALIDATION_ERROR")


def test_sign_out_everywhere_ends_every_token(client, make_user):
    user, first = make_user()
    second = client.post(
        "/api/auth/login", json={"email": user["email"], "password": PASSWORD}
    ).get_json()["data"]["token"]
    assert client.post("/api/user/logout-all", headers=auth(first)).status_code == 200
    for token in (first, second):
        error_of(client.get("/api/auth/me", headers=auth(token)), 401, "UNAUTHORIZED")
    login = client.post("/api/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert login.status_code == 200


def test_delete_account_needs_the_password_and_the_word(client, make_user):
    user, token = make_user()
    body = {"password": "wrong-password", "confirm": "DELETE"}
    # A wrong password is 400 (401 would tell the client its session ended): nothing changes.
    wrong = error_of(
        client.delete("/api/user", json=body, headers=auth(token)), 400, "WRONG_PASSWORD"
    )
    assert wrong["details"]["field"] == "password"
    assert client.get("/api/auth/me", headers=auth(token)).status_code == 200
    body = {"password": PASSWORD, "confirm": "yes"}
    error_of(client.delete("/api/user", json=body, headers=auth(token)), 400, "VALIDATION_ERROR")
    assert User.objects.get(id=user["id"]).isActive


def test_delete_account_closes_it_scrubs_it_and_keeps_the_books(client, make_user):
    user, token = make_user()
    ChatSession(sessionId=f"chat_del_{user['id']}", userId=user["id"]).save()
    ChatMessage(sessionId=f"chat_del_{user['id']}", userId=user["id"], role="user").save()
    body = {"password": PASSWORD, "confirm": "DELETE"}
    res = client.delete("/api/user", json=body, headers=auth(token))
    assert res.status_code == 200, res.get_json()
    doc = User.objects.get(id=user["id"])
    assert (doc.isActive, doc.name, doc.password) == (False, "Deleted user", None)
    assert doc.email.endswith("@deleted.invalid")
    assert doc.tokens.balance == 10_000  # forfeited, not paid out; the record stays whole
    assert not ChatSession.objects(userId__in=[doc.id]).first()
    assert not ChatMessage.objects(userId__in=[doc.id]).first()
    assert LedgerEntry.objects(key=f"grant-{user['id']}").count() == 1
    error_of(client.get("/api/auth/me", headers=auth(token)), 401, "UNAUTHORIZED")
    login = client.post("/api/auth/login", json={"email": user["email"], "password": PASSWORD})
    error_of(login, 401, "UNAUTHORIZED")
    # The address can sign up again, as a new account with its own grant.
    again = client.post(
        "/api/auth/register", json={"email": user["email"], "password": PASSWORD, "name": "New"}
    )
    assert again.status_code == 201
    assert [d for d in reconcile() if str(d.user_id) == user["id"]] == []


def test_delete_account_is_refused_while_an_answer_holds_tokens(client, make_user):
    user, token = make_user()
    wallet.reserve(user["id"], 500, f"held-{user['id']}")
    res = client.delete(
        "/api/user", json={"password": PASSWORD, "confirm": "DELETE"}, headers=auth(token)
    )
    error_of(res, 409, "CONFLICT")
    assert User.objects.get(id=user["id"]).isActive
    wallet.release(user["id"], f"held-{user['id']}")
    wallet.release(user["id"], f"held-{user['id']}")


def charge(user_id: str, model: str, tokens: int, charged: int, key_id: str | None = None) -> str:
    """A settled answer as the settlement records it in the ledger (no message needed)."""
    key = str(ObjectId())
    wallet.reserve(user_id, charged + 100, key)
    details = {"messageId": key, "modelId": model, "status": "done", "tokens": tokens}
    details |= {"usage": {"prompt": tokens // 2, "completion": tokens - tokens // 2}}
    details |= {"cost": 0.001, **({"apiKeyId": key_id} if key_id else {})}
    wallet.settle(user_id, key, charged, details=details, source="api" if key_id else "chat")
    return key


def test_usage_and_ledger_are_the_callers_own(client, make_user):
    ann, ann_token = make_user()
    _, bob_token = make_user()
    key_id = str(ObjectId())
    for model, tokens, charged, through in (
        ("m/a", 100, 40, None),
        ("m/a", 50, 20, key_id),
        ("m/b", 300, 90, key_id),
    ):
        charge(ann["id"], model, tokens, charged, through)
    wallet.reserve(ann["id"], 100, "failed-one")  # a failed answer: released, not usage
    wallet.release(ann["id"], "failed-one", reason="failed")
    data = client.get("/api/user/usage?days=7", headers=auth(ann_token)).get_json()["data"]
    assert len(data["byDay"]) == 7
    assert data["byDay"][-1]["tokens"] == 450 and sum(d["tokens"] for d in data["byDay"]) == 450
    assert [(m["modelId"], m["tokens"], m["charged"], m["requests"]) for m in data["byModel"]] == [
        ("m/b", 300, 90, 1),
        ("m/a", 150, 60, 2),
    ]
    by_key = [(k["apiKeyId"], k["requests"], k["tokens"], k["charged"]) for k in data["byKey"]]
    assert by_key == [(key_id, 2, 350, 110)]
    assert data["totals"]["charged"] == 150 and data["today"] == {"requests": 0, "limit": 50}
    other = client.get("/api/user/usage?days=90", headers=auth(bob_token)).get_json()["data"]
    assert other["totals"]["tokens"] == 0 and len(other["byDay"]) == 90
    error_of(client.get("/api/user/usage?days=8", headers=auth(ann_token)), 400, "VALIDATION_ERROR")
    error_of(client.get("/api/user/usage?days=x", headers=auth(ann_token)), 400, "VALIDATION_ERROR")
    error_of(client.get("/api/user/usage"), 401, "UNAUTHORIZED")
    ann_ledger = client.get("/api/user/ledger", headers=auth(ann_token)).get_json()["data"]
    assert ann_ledger["total"] == 5  # the grant, three charges, one release


def test_the_ledger_pages_newest_first_with_each_charges_receipt(client, make_user):
    ann, ann_token = make_user()
    ledger = client.get("/api/user/ledger?limit=1", headers=auth(ann_token)).get_json()["data"]
    assert ledger["total"] == 1 and ledger["entries"][0]["kind"] == "grant"
    assert ledger["entries"][0]["amount"] == 10_000
    # A chat charge as the settlement writes it (with its receipt and the wallet's own fields).
    key = f"msg-{ann['id']}"
    wallet.reserve(ann["id"], 500, key)
    receipt = {"modelId": "m/a", "usage": {"prompt": 10, "completion": 20}, "rates": {"prompt": 1}}
    wallet.settle(ann["id"], key, 40, details=receipt, also_inc={"usage.totalRequests": 1})
    ledger = client.get("/api/user/ledger", headers=auth(ann_token)).get_json()["data"]
    assert ledger["total"] == 2
    charge = ledger["entries"][0]
    assert (charge["kind"], charge["amount"], charge["details"]) == ("charge", -40, receipt)
    assert sum(e["amount"] for e in ledger["entries"]) == 10_000 - 40
    error_of(
        client.get("/api/user/ledger?page=0", headers=auth(ann_token)), 400, "VALIDATION_ERROR"
    )


def test_public_config_says_where_checkout_loads_from_and_no_secret(client):
    data = client.get("/api/config").get_json()["data"]
    assert data["razorpay"]["checkoutUrl"] == "https://checkout.razorpay.com/v1/checkout.js"
    assert data["google"] is None
    assert "secret" not in str(data).lower()


def test_the_csp_allows_checkout_and_nothing_inline(client):
    csp = client.get("/").headers["Content-Security-Policy"]
    assert "script-src 'self' https://checkout.razorpay.com" in csp
    assert "frame-src https://checkout.razorpay.com https://api.razorpay.com" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
