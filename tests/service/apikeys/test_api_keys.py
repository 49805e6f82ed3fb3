"""Personal API keys through the HTTP API (Flask's client, nx-27017, real Redis)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from common.apikeys.models import ApiKey
from common.audit.models import AuditLog
from tests.support.accounts import confirm_address
from tests.support.http import auth

KEYS = "/api/user/api-keys"


@pytest.fixture(autouse=True)
def catalog(fake_openrouter, settings_override):
    from common.catalog.service import invalidate_cache, sync_provider

    settings_override(openrouter_base_url=fake_openrouter.base_url)
    invalidate_cache()
    sync_provider("openrouter")


@pytest.fixture
def owner(make_user):
    return make_user()


def create(client, token, **body):
    res = client.post(KEYS, json={"name": "laptop", **body}, headers=auth(token))
    assert res.status_code == 201, res.get_json()
    return res.get_json()["data"]


def test_secret_is_shown_once_and_stored_only_as_its_hash(client, owner):
    data = create(client, owner[1], dailyTokenCap=500, models=["fake/echo"])
    secret, key = data["secret"], data["key"]
    assert secret.startswith("ap-") and len(secret) >= 40
    assert key["prefix"] == secret[:10] and key["dailyTokenCap"] == 500
    stored = ApiKey._get_collection().find_one({})
    assert secret not in str(stored)
    assert stored["secretHash"] == hashlib.sha256(secret.encode()).hexdigest()
    listed = client.get(KEYS, headers=auth(owner[1])).get_json()["data"]["keys"]
    assert [k["id"] for k in listed] == [key["id"]]
    assert secret not in str(listed) and "secretHash" not in listed[0]
    assert set(listed[0]) >= {"prefix", "name", "createdAt", "lastUsedAt", "spentTokens"}


def test_bad_bodies_are_validation_errors(client, owner):
    for body in (
        {},
        {"name": ""},
        {"name": {"$ne": None}},
        {"name": "x", "dailyTokenCap": 0},
        {"name": "x", "models": ["no/such-model"]},
        {"name": "x", "expiresAt": "2001-01-01T00:00:00Z"},
        {"name": "x", "expiresAt": "not a date"},
    ):
        res = client.post(KEYS, json=body, headers=auth(owner[1]))
        assert res.status_code == 400, (body, res.get_json())
        assert res.get_json()["code"] == "VALIDATION_ERROR"


def test_revoke_is_audited_idempotent_and_only_for_the_owner(client, owner, make_user):
    key = create(client, owner[1])["key"]
    _, other = make_user()
    assert client.delete(f"{KEYS}/{key['id']}", headers=auth(other)).status_code == 404
    res = client.delete(f"{KEYS}/{key['id']}", headers=auth(owner[1]))
    assert res.status_code == 200 and res.get_json()["data"]["key"]["revokedAt"]
    assert client.delete(f"{KEYS}/{key['id']}", headers=auth(owner[1])).status_code == 200
    assert client.get(KEYS, headers=auth(owner[1])).get_json()["data"]["keys"] == []
    with_revoked = client.get(f"{KEYS}?revoked=true", headers=auth(owner[1])).get_json()
    assert [k["id"] for k in with_revoked["data"]["keys"]] == [key["id"]]
    assert with_revoked["data"]["keys"][0]["revokedAt"]
    assert client.get(f"{KEYS}?revoked=maybe", headers=auth(owner[1])).status_code == 400
    actions = [e.action for e in AuditLog.objects(targetId=key["id"]).order_by("createdAt")]
    assert actions == ["apikey.create", "apikey.revoke"]
    assert client.delete(f"{KEYS}/not-an-id", headers=auth(owner[1])).status_code == 404


def test_a_key_is_not_a_login_token(client, owner):
    secret = create(client, owner[1])["secret"]
    for path in ("/api/user/profile", KEYS, "/api/chat/sessions"):
        res = client.get(path, headers=auth(secret))
        assert res.status_code == 401 and res.get_json()["code"] == "UNAUTHORIZED", path


def test_a_login_token_is_not_a_key(client, owner):
    res = client.get("/v1/models", headers=auth(owner[1]))
    assert res.status_code == 401
    assert res.get_json()["error"]["code"] == "invalid_api_key"


def test_revoked_and_expired_keys_are_refused_at_once(client, owner):
    data = create(client, owner[1])
    assert client.get("/v1/models", headers=auth(data["secret"])).status_code == 200
    client.delete(f"{KEYS}/{data['key']['id']}", headers=auth(owner[1]))
    res = client.get("/v1/models", headers=auth(data["secret"]))
    assert res.status_code == 401 and "revoked" in res.get_json()["error"]["message"]

    soon = (datetime.now(UTC) + timedelta(seconds=60)).isoformat()
    data = create(client, owner[1], expiresAt=soon)
    assert client.get("/v1/models", headers=auth(data["secret"])).status_code == 200
    past = datetime.now(UTC) - timedelta(seconds=1)
    ApiKey.objects(id=data["key"]["id"]).update_one(set__expiresAt=past)
    res = client.get("/v1/models", headers=auth(data["secret"]))
    assert res.status_code == 401 and "expired" in res.get_json()["error"]["message"]


def test_models_lists_only_the_allow_list(client, owner):
    secret = create(client, owner[1], models=["fake/echo"])["secret"]
    body = client.get("/v1/models", headers=auth(secret)).get_json()
    assert body["object"] == "list" and [m["id"] for m in body["data"]] == ["fake/echo"]
    one = client.get("/v1/models/fake/echo", headers=auth(secret)).get_json()
    assert one == {**body["data"][0], "created": one["created"]}
    res = client.get("/v1/models/openai/gpt-4o", headers=auth(secret))  # outside the allow-list
    assert res.status_code == 404 and res.get_json()["error"]["code"] == "model_not_found"
    everything = create(client, owner[1], name="all")["secret"]
    assert len(client.get("/v1/models", headers=auth(everything)).get_json()["data"]) > 1


def test_admin_lists_and_revokes_a_users_keys(client, owner, make_admin):
    key = create(client, owner[1])["key"]
    admin, admin_token = make_admin()
    uid = owner[0]["id"]
    path = f"/api/admin/users/{uid}/api-keys"
    assert client.get(path, headers=auth(owner[1])).status_code == 403
    listed = client.get(path, headers=auth(admin_token)).get_json()["data"]["keys"]
    assert [k["id"] for k in listed] == [key["id"]]
    res = client.delete(f"{path}/{key['id']}", headers=auth(admin_token))
    assert res.status_code == 200
    entry = AuditLog.objects(action="apikey.revoke").first()
    assert entry.adminId == admin["id"] and entry.targetId == key["id"]
    assert client.get(path, headers=auth(admin_token)).get_json()["data"]["keys"][0]["revokedAt"]


def test_last_used_is_recorded(client, owner):
    from tests.support.services import wait_for

    data = create(client, owner[1])
    assert data["key"]["lastUsedAt"] is None
    assert client.get("/v1/models", headers=auth(data["secret"])).status_code == 200

    def listed_last_used():
        keys = client.get(KEYS, headers=auth(owner[1])).get_json()["data"]["keys"]
        return keys[0]["lastUsedAt"]

    wait_for(listed_last_used, 10, 0.05, "lastUsedAt to be written")


def test_v1_is_rate_limited_per_key_in_openai_shape(base_settings, fake_openrouter):
    from tests.support.apps import fresh_app

    with fresh_app(
        base_settings, rate_limit_api="3/minute", openrouter_base_url=fake_openrouter.base_url
    ) as app:
        client = app.test_client()
        res = client.post(
            "/api/auth/register",
            json={"email": "rl@example.com", "password": "correct-horse-1", "name": "R"},
        )
        token = res.get_json()["data"]["token"]
        confirm_address(res.get_json()["data"]["user"])
        first, second = (create(client, token, name=n)["secret"] for n in ("a", "b"))
        for _ in range(3):
            assert client.get("/v1/models", headers=auth(first)).status_code == 200
        res = client.get("/v1/models", headers=auth(first))
        assert res.status_code == 429 and res.get_json()["error"]["code"] == "rate_limited"
        assert 1 <= int(res.headers["Retry-After"]) <= 60
        assert client.get("/v1/models", headers=auth(second)).status_code == 200  # its own budget


def test_a_deactivated_account_cannot_use_its_keys(client, owner):
    from common.users.models import User

    secret = create(client, owner[1])["secret"]
    assert client.get("/v1/models", headers=auth(secret)).status_code == 200
    User.objects(id=owner[0]["id"]).update_one(set__isActive=False)
    res = client.get("/v1/models", headers=auth(secret))
    assert res.status_code == 401 and "not active" in res.get_json()["error"]["message"]


def _warm(client, secret: str) -> None:
    """Three uses: the first learns the key's owner, the second reads and keeps the documents,
    the third reuses them."""
    for _ in range(3):
        assert client.get("/v1/models", headers=auth(secret)).status_code == 200


def test_a_key_used_again_soon_reuses_its_check_until_something_signals_a_change(client, owner):
    from common.users import credentials

    secret = create(client, owner[1])["secret"]
    _warm(client, secret)
    # A write that does not signal (here straight into the collection) is not read again
    # within the reuse window: the reuse is real, and only a signal ends it.
    ApiKey._get_collection().update_one({}, {"$set": {"revokedAt": datetime.now(UTC)}})
    assert client.get("/v1/models", headers=auth(secret)).status_code == 200
    credentials.changed(owner[0]["id"])
    res = client.get("/v1/models", headers=auth(secret))
    assert res.status_code == 401 and "revoked" in res.get_json()["error"]["message"]


def test_a_reused_check_still_refuses_at_once_revoked_keys_and_deactivated_accounts(
    client, owner, make_admin
):
    secret = create(client, owner[1])["secret"]
    _warm(client, secret)
    key_id = ApiKey._get_collection().find_one({})["_id"]
    client.delete(f"{KEYS}/{key_id}", headers=auth(owner[1]))
    res = client.get("/v1/models", headers=auth(secret))
    assert res.status_code == 401 and "revoked" in res.get_json()["error"]["message"]

    secret = create(client, owner[1])["secret"]
    _warm(client, secret)
    admin = make_admin()
    res = client.post(
        f"/api/admin/users/{owner[0]['id']}/deactivate",
        json={"reason": "abuse"},
        headers=auth(admin[1]),
    )
    assert res.status_code == 200, res.get_json()
    res = client.get("/v1/models", headers=auth(secret))
    assert res.status_code == 401 and "not active" in res.get_json()["error"]["message"]


def test_a_plan_change_counts_at_once_for_a_reused_check(client, owner):
    from common.apikeys import service
    from common.payments.subscriptions import apply_purchase

    secret = create(client, owner[1])["secret"]
    _warm(client, secret)
    assert service.authenticate(secret)[1].subscription.plan == "free"
    apply_purchase(owner[0]["id"], "order-1", "pro", 30, None)
    assert service.authenticate(secret)[1].subscription.plan == "pro"


def test_a_burst_on_one_key_after_the_reuse_window_makes_one_read(client, owner, monkeypatch):
    """Many requests on one key at once, as a batch job sends them, when the documents read
    for it are too old: one of them reads the key and its user, the others take that read."""
    import threading

    from common.apikeys import service

    secret = create(client, owner[1])["secret"]
    _warm(client, secret)
    monkeypatch.setattr(service, "REUSE_SECONDS", 0.0)  # every reuse is too old now
    reads = []
    real_read = service._read_key_and_user
    go = threading.Event()

    def slow_read(digest, user_id):
        reads.append(digest)
        go.wait(5)  # the read is in flight while the others arrive
        return real_read(digest, user_id)

    monkeypatch.setattr(service, "_read_key_and_user", slow_read)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(service.authenticate(secret)))
        for _ in range(20)
    ]
    for t in threads:
        t.start()
    service.time.sleep(0.3)
    monkeypatch.setattr(service, "REUSE_SECONDS", 60.0)  # what was just read counts as fresh
    go.set()
    for t in threads:
        t.join(10)
    assert len(results) == 20 and all(key.userId == user.id for key, user in results)
    assert len(reads) == 1
