"""The process stack of the chat tests, plus API keys and an `openai` SDK client on `/v1`."""

from __future__ import annotations

import openai
import pytest

from tests.integration.chat.conftest import stack_settings, user  # noqa: F401
from tests.support.chatkit import Api


@pytest.fixture
def api(live, user):  # noqa: F811
    return Api(live, user[1])


@pytest.fixture
def new_key(api):
    """Create a key through the API: `new_key(**body)` -> (key json, secret)."""

    def create(**body):
        res = api.post("/api/user/api-keys", {"name": "test key", **body})
        assert res.status_code == 201, res.text
        data = res.json()["data"]
        return data["key"], data["secret"]

    return create


@pytest.fixture
def sdk(live, new_key):  # noqa: F811
    """`sdk(secret=None)`: the official client on our `/v1` (no retries: each call is one try)."""

    def make(secret: str | None = None) -> openai.OpenAI:
        secret = secret or new_key()[1]
        return openai.OpenAI(
            api_key=secret, base_url=live.base_url + "/v1", max_retries=0, timeout=60
        )

    return make
