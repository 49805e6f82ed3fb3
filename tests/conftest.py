"""Session services (nx-27017, a private Redis database) and the app, client and user fixtures.

They start only when a test asks for them: `tests/unit` never does (its conftest's guard fails
a test that tries). In `tests/service`, `tests/integration` and `tests/e2e` every test gets empty
collections and no `aipasta:*` Redis keys (`clean_state`, autouse in those tiers' conftests).
Tests that need real processes (gunicorn, celery) use `tests/support/stack.py`. Which tier a
test belongs in: tests/README.md.
"""

from __future__ import annotations

import itertools

import pytest
import redis

from common import db
from common.moderation import terms
from config import Settings, load_settings, use_settings
from tests.fakes.fixtures import _fake_openrouter_server, fake_openrouter  # noqa: F401
from tests.support.services import (
    LOG_DIR,
    REDIS_HOST,
    REDIS_PORT,
    mongo_server,
    private_redis_db,
)

# The fixtures several suites share (the fake provider, a module's process stack, an admin);
# pytester runs a pytest inside a test (tests/unit/test_unit_guard.py).
pytest_plugins = ["tests.support.fixtures", "pytester"]

_emails = itertools.count(1)


@pytest.fixture(scope="session")
def mongo_address():
    with mongo_server() as address:
        yield address


@pytest.fixture(scope="session")
def redis_db():
    with private_redis_db() as n:
        yield n


@pytest.fixture(scope="session")
def base_settings(mongo_address, redis_db) -> Settings:
    env = {
        "APP_ENV": "test",
        "MONGODB_URI": f"mongodb://{mongo_address}/aipasta_test?directConnection=true",
        "REDIS_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{redis_db}",
        "JWT_SECRET_KEY": "test-secret-0123456789abcdef0123456789abcdef",
        "RATE_LIMIT_AUTH": "1000/minute",
        "RATE_LIMIT_API": "5000/minute",
        "ALLOWED_ORIGINS": "http://localhost:3000",
        "LOG_LEVEL": "WARNING",
        "BCRYPT_ROUNDS": "4",
        # No SMTP_HOST: mail goes to .eml files here (tests that read mail run a real SMTP
        # server, tests/fakes/smtp.py).
        "MAIL_DIR": str(LOG_DIR / "mail"),
    }
    return load_settings(env)


@pytest.fixture(scope="session")
def app(base_settings):
    from web import create_app

    application = create_app(base_settings)
    application.config.update(TESTING=True)
    return application


@pytest.fixture
def settings(app, base_settings, monkeypatch) -> Settings:
    """The active settings; `settings_override(**kw)` changes them for one test."""
    use_settings(base_settings)
    return base_settings


@pytest.fixture
def settings_override(settings):
    def override(**changes) -> Settings:
        return use_settings(settings.with_overrides(**changes))

    yield override
    use_settings(settings)


@pytest.fixture
def clean_state(base_settings):
    """Empty every collection (indexes kept) and our Redis keys before each test (autouse in
    every tier but unit)."""
    use_settings(base_settings)
    database = db.connect(base_settings.mongodb_uri)
    for name in database.list_collection_names():
        database[name].delete_many({})
    r = redis.Redis.from_url(base_settings.redis_url)
    # Worker beacons stay: they belong to the module's worker processes, which outlive a test.
    keys = [k for k in r.scan_iter("aipasta*", count=1000) if not k.startswith(b"aipasta:worker:")]
    if keys:
        r.delete(*keys)
    terms.forget_cache()  # the blocked-terms pattern this process compiled from the old stores
    yield


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_user(app, client):
    """Register a user through the API; returns (user_json, token). The address counts as
    confirmed (as if its link was opened) unless `verified=False`: buying and API keys need it."""
    from common.users import service as users

    def make(
        email: str | None = None,
        password: str = "correct-horse-1",
        name: str = "Test User",
        verified: bool = True,
    ):
        email = email or f"user{next(_emails)}@example.com"
        res = client.post(
            "/api/auth/register", json={"email": email, "password": password, "name": name}
        )
        assert res.status_code == 201, res.get_json()
        data = res.get_json()["data"]
        if verified:
            users.mark_email_verified(data["user"]["id"], email)
            data["user"]["emailVerified"] = True
        return data["user"], data["token"]

    return make


@pytest.fixture
def make_admin(make_user, client):
    """An admin user (registered, promoted, logged in again); returns (user_json, token)."""
    from common.users.models import User

    def make(**kwargs):
        user, _ = make_user(**kwargs)
        User.objects(id=user["id"]).update_one(set__role="admin")
        password = kwargs.get("password", "correct-horse-1")
        res = client.post("/api/auth/login", json={"email": user["email"], "password": password})
        data = res.get_json()["data"]
        return data["user"], data["token"]

    return make
