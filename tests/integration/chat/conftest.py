"""Shared fixtures for the streaming chat tests: a fake OpenRouter and the process stack."""

from __future__ import annotations

import pytest

from tests.support.chatkit import Api
from tests.support.wsclient import WsClient


@pytest.fixture(scope="module")
def stack_settings(base_settings, fake):
    return base_settings.with_overrides(openrouter_base_url=fake.base_url, hold_lease_seconds=2)


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
