"""`tests/unit` is pure code: no Redis, no MongoDB, no Flask app, no network, no processes.

A guard holds every test here to that, so the tier runs in seconds on a machine with no services
(`.venv/bin/pytest -q tests/unit`):

- a test that asks for a fixture backed by a service (`client`, `make_user`, `app`, the fake
  providers, a process stack: anything that needs `mongo_address`, `redis_db`, `app`, ...) fails
  before any of them starts;
- a test that opens a TCP connection, makes a MongoDB client or builds a Flask app fails, even
  when the code under test catches the error.

The message names the test and what it touched. Such a test belongs in `tests/service/<domain>/`
(in-process, real Redis and nx-27017, the Flask test client, the local fakes) — see
`tests/README.md`.

`settings` here (and so `settings_override`) is the test settings without services: pure code
that reads the active settings (`config.current_settings()`) gets them, and the stores they name
are unreachable on purpose.
"""

from __future__ import annotations

import socket

import flask
import pymongo
import pytest

from config import Settings, load_settings, use_settings

# Fixtures that start or reach a service; every store-backed fixture (client, make_user, admin,
# buyer, provider, live, ...) needs at least one of them.
SERVICE_FIXTURES = frozenset(
    {
        "mongo_address",
        "redis_db",
        "base_settings",
        "app",
        "clean_state",
        "_fake_openrouter_server",
        "fake_openrouter",
        "fake",
        "stack",
        "live",
        "razorpay_server",
    }
)

WHERE = "tests/unit is for pure code; move it to tests/service/<domain>/ (see tests/README.md)"

UNIT_ENV = {
    "APP_ENV": "test",
    # Names no test here may reach: the guard refuses the connection first.
    "MONGODB_URI": "mongodb://unit-tests-have-no-mongodb.invalid:1/aipasta_unit",
    "REDIS_URL": "redis://unit-tests-have-no-redis.invalid:1/0",
    "JWT_SECRET_KEY": "test-secret-0123456789abcdef0123456789abcdef",
    "ALLOWED_ORIGINS": "http://localhost:3000",
    "LOG_LEVEL": "WARNING",
    "BCRYPT_ROUNDS": "4",
}


TOUCHED = pytest.StashKey[list]()  # what the running test reached for


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail a unit test that asks for a service fixture, before any fixture starts."""
    needs = sorted(SERVICE_FIXTURES.intersection(item.fixturenames))
    if needs:
        asked = ", ".join(item._fixtureinfo.argnames) or "-"
        pytest.fail(
            f"{item.nodeid} needs services: it asks for fixtures ({asked}) that start or reach "
            f"{', '.join(needs)}. {WHERE}",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _no_services(request, monkeypatch):
    """Refuse TCP connections, MongoDB clients and Flask apps for the test's duration."""
    touched = request.node.stash.setdefault(TOUCHED, [])

    def refuse(what: str):
        """pytest's own failure (a BaseException): code that catches `Exception` and retries,
        as a publisher does while Redis is down, cannot swallow it."""
        touched.append(what)
        return pytest.fail.Exception(f"{request.node.nodeid} touched {what}. {WHERE}", False)

    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            raise refuse(f"the network (a connection to {address!r})")
        return real_connect(sock, address)

    def connect_ex(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            raise refuse(f"the network (a connection to {address!r})")
        return real_connect_ex(sock, address)

    def mongo_client(*args, **kwargs):
        raise refuse("MongoDB (a pymongo.MongoClient)")

    def flask_app(*args, **kwargs):
        raise refuse("the Flask app (a flask.Flask)")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(pymongo.MongoClient, "__init__", mongo_client)
    monkeypatch.setattr(flask.Flask, "__init__", flask_app)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """A test that passed although it reached for a service (the code under test caught the
    refusal, say) fails all the same."""
    result = yield
    touched = item.stash.get(TOUCHED, [])
    if touched:
        pytest.fail(f"{item.nodeid} touched {touched[0]}. {WHERE}", pytrace=False)
    return result


@pytest.fixture
def settings() -> Settings:
    """The test settings, active in this process; no service behind them."""
    return use_settings(load_settings(UNIT_ENV))
