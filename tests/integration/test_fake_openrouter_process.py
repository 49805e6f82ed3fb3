"""The fake OpenRouter as its own process, scripted over its HTTP control API."""

from __future__ import annotations

import sys

import pytest

from common.providers.base import ChatRequest, ProviderRateLimited, TextDelta, Usage
from common.providers.openrouter import OpenRouterProvider
from tests.fakes.openrouter import FakeOpenRouterClient
from tests.support.services import Proc, free_port, wait_http


@pytest.fixture
def fake_process():
    port = free_port()
    proc = Proc(
        "fake-openrouter", [sys.executable, "-m", "tests.fakes.openrouter", "--port", str(port)]
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/_fake/stats", 60, proc)
        yield FakeOpenRouterClient(f"http://127.0.0.1:{port}")
    finally:
        proc.stop()


def test_scripted_from_another_process(fake_process):
    client = OpenRouterProvider(fake_process.base_url, "sk-x", read_timeout=10)
    request = ChatRequest("fake/echo", [{"role": "user", "content": "hi"}])
    fake_process.scenario("fake/echo", status=429, retry_after=2, fail_times=1, deltas=["yo"])
    with pytest.raises(ProviderRateLimited) as info:
        list(client.stream_chat(request))
    assert info.value.retry_after == 2.0
    events = list(client.stream_chat(request))
    assert events[0] == TextDelta("yo") and isinstance(events[1], Usage)
    assert len(client.list_models()) == 31
    stats = fake_process.stats()
    assert (stats["chat_calls"], stats["models_calls"]) == (2, 1)
    assert stats["chat_by_model"] == {"fake/echo": 2}
    assert stats["last_requests"][-1]["model"] == "fake/echo"
    fake_process.reset()
    assert fake_process.stats()["chat_calls"] == 0
