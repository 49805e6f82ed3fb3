"""Shared fixtures for the streaming chat tests: a fake OpenRouter and the process stack."""

from __future__ import annotations

import pytest

from common.catalog.service import invalidate_cache, sync_provider
from config import use_settings
from tests.fakes.openrouter import FakeOpenRouter
from tests.support.chatkit import Api
from tests.support.stack import Stack
from tests.support.wsclient import WsClient


@pytest.fixture(scope="module")
def fake():
    with FakeOpenRouter() as server:
        yield server


@pytest.fixture(scope="module")
def stack_settings(base_settings, fake):
    return base_settings.with_overrides(openrouter_base_url=fake.base_url, hold_lease_seconds=2)


@pytest.fixture(scope="module")
def stack(stack_settings):
    s = Stack(stack_settings, name="chat").start()
    yield s
    s.stop()


@pytest.fixture
def live(stack, stack_settings, fake):
    """Per test: the stack's settings in this process, a fresh fake and a synced catalog."""
    use_settings(stack_settings)
    fake.reset()
    invalidate_cache()
    sync_provider("openrouter")
    return stack


@pytest.fixture
def user(live, make_user):
    info, token = make_user()
    return info, token


@pytest.fixture
def api(live, user):
    return Api(live, user[1])


@pytest.fixture
def ws(live, user):
    client = WsClient(live.ws_url, user[1])
    yield client
    client.close()
