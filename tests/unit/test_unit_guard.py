"""The guard of tests/unit (its conftest) fails a test that reaches for a service — and says
which test and where it belongs — while a pure test passes. Run as a pytest inside this one."""

from __future__ import annotations

import pytest

CONFTEST = """
import pytest

from tests.unit.conftest import _no_services, pytest_runtest_call, pytest_runtest_setup  # noqa: F401


@pytest.fixture(scope="session")
def redis_db():
    raise AssertionError("the guard let redis_db start")


@pytest.fixture
def client(redis_db):
    return object()
"""

TESTS = """
import socket

import flask
import pymongo


def test_asks_for_a_store_fixture(client):
    pass


def test_swallows_a_refused_connection():
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1)
    except Exception:
        pass  # code under test that only logs a failed connection


def test_builds_a_flask_app():
    flask.Flask("app")


def test_makes_a_mongodb_client():
    pymongo.MongoClient("mongodb://127.0.0.1:27017", connect=False)


def test_pure():
    assert sorted([3, 1, 2]) == [1, 2, 3]
"""


@pytest.fixture
def outcome(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_things=TESTS)
    return pytester.runpytest("-p", "no:cacheprovider", "-rfE")


def test_a_pure_test_passes_and_each_kind_of_reach_fails(outcome):
    outcome.assert_outcomes(passed=1, failed=3, errors=1)  # the fixture's is a setup error


def test_a_store_fixture_fails_before_it_starts_naming_the_test(outcome):
    text = outcome.stdout.str()
    assert "test_asks_for_a_store_fixture needs services" in text
    assert "asks for fixtures (client) that start or reach redis_db" in text
    assert "the guard let redis_db start" not in text


@pytest.mark.parametrize(
    ("test", "what"),
    [
        ("test_swallows_a_refused_connection", "touched the network (a connection to ("),
        ("test_builds_a_flask_app", "touched the Flask app"),
        ("test_makes_a_mongodb_client", "touched MongoDB"),
    ],
)
def test_touching_a_service_fails_even_when_the_error_is_swallowed(outcome, test, what):
    said = [ln for ln in outcome.outlines if f"test_things.py::{test} touched " in ln]
    assert said and all(what in ln and "tests/service/<domain>/" in ln for ln in said), said
    assert any(ln.startswith("FAILED") and f"::{test}" in ln for ln in outcome.outlines)
