"""pytest fixtures for the fake providers (registered in tests/conftest.py).

`fake_openrouter` is one server per test session, reset before each test. Point the app at it
with `settings_override(openrouter_base_url=fake_openrouter.base_url)`.
"""

from __future__ import annotations

import pytest

from tests.fakes.openrouter import FakeOpenRouter


@pytest.fixture(scope="session")
def _fake_openrouter_server():
    with FakeOpenRouter() as fake:
        yield fake


@pytest.fixture
def fake_openrouter(_fake_openrouter_server) -> FakeOpenRouter:
    _fake_openrouter_server.reset()
    return _fake_openrouter_server
