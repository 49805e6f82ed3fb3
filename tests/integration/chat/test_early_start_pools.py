"""The early start (`common.chat.early`) under a prefork worker: its pool runs tasks in child
processes, which could not take an answer the consuming process started when the task arrived —
so that process must not start one. The provider is asked once per answer."""

from __future__ import annotations

import pytest

from common.chat.models import ChatMessage
from common.wallet.reconcile import reconcile
from config import use_settings
from tests.support.chatkit import FREE
from tests.support.stack import Stack


@pytest.fixture(scope="module")
def stack(stack_settings):
    use_settings(stack_settings)
    running = Stack(stack_settings, name="prefork-worker", workers=0)
    running.start_web()
    running.start_worker(pool=["--pool", "prefork", "--concurrency", "1"])
    running.wait_healthy()
    yield running
    running.stop()


def test_a_prefork_worker_asks_the_provider_once_per_answer(live, fake, api):
    fake.scenario(FREE, deltas=["asked ", "once"], first_delay=0.3)
    before = fake.stats()["chat_calls"]

    res = api.post("/api/chat", {"message": "hi", "modelId": FREE, "wait": True})

    assert res.status_code == 200, res.text
    message = res.json()["data"]["message"]
    assert message["content"] == "asked once"
    assert fake.stats()["chat_calls"] == before + 1
    assert ChatMessage.objects(id=message["id"]).first().status == "done"
    assert reconcile() == []
