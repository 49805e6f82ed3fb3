"""The web process SIGKILLed in the middle of a burst of sends, then every client retries with
its idempotency key: each send is answered once and charged once, and `reconcile` is clean."""

from __future__ import annotations

import signal
import threading
import time
from datetime import timedelta

import pytest
import requests

from common.conversations.models import ChatMessage
from common.engine import reaper
from common.wallet import service as wallet
from common.wallet.reconcile import reconcile
from tests.support.chatkit import FREE, tokens_of
from tests.support.http import auth
from tests.support.services import Proc, wait_for

STALE = 2.0
SENDS = 16


@pytest.fixture(scope="module")
def stack_settings(base_settings, fake):
    # One send at a time per web process: at the kill, one send is mid-write and the rest wait.
    return base_settings.with_overrides(
        openrouter_base_url=fake.base_url,
        hold_lease_seconds=2,
        idempotency_stale_seconds=STALE,
        send_concurrency=1,
    )


def _post(live, token: str, key: str) -> requests.Response:
    body = {"message": f"answer {key}", "modelId": FREE, "options": {"maxTokens": 50}}
    headers = auth(token) | {"Idempotency-Key": key}
    return requests.post(live.base_url + "/api/chat", json=body, headers=headers, timeout=30)


def _restart_web(live) -> None:
    """SIGKILL the web and start it again in its place, where the stack stops it at the end."""
    web = live.webs[0]
    web.proc.kill(signal.SIGKILL)
    web.proc.popen.wait(10)
    env = {**live.env, "PROMETHEUS_MULTIPROC_DIR": str(web.metrics_dir)}
    web.proc = live.web = Proc(web.proc.name, web.proc.cmd, env)
    live.wait_healthy()


@pytest.mark.timeout(300)  # a stack restart and a burst on a shared 2-core machine
def test_a_killed_web_process_and_retried_sends_charge_each_send_once(
    live, fake, user, monkeypatch
):
    info, token = user
    keys = [f"burst-{i}" for i in range(SENDS)]
    first: dict[str, object] = {}

    def attempt(key: str) -> None:
        try:
            first[key] = _post(live, token, key)
        except requests.RequestException as exc:  # the process died under this request
            first[key] = exc

    threads = [threading.Thread(target=attempt, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    wait_for(lambda: ChatMessage.objects(role="assistant").first(), 60, what="a first send")
    _restart_web(live)
    for t in threads:
        t.join()
    lost = [k for k, r in first.items() if not isinstance(r, requests.Response)]
    assert lost, "the kill came after every send had answered"

    time.sleep(STALE + 0.5)  # an attempt that died mid-send is now taken for dead
    answers = {}
    for key in keys:
        res = _post(live, token, key)
        assert res.status_code == 202, res.json()
        answers[key] = [m["id"] for m in res.json()["data"]["messages"]]
        earlier = first[key]
        if isinstance(earlier, requests.Response) and earlier.status_code == 202:
            assert [m["id"] for m in earlier.json()["data"]["messages"]] == answers[key]

    mids = [mid for ids in answers.values() for mid in ids]
    assert len(set(mids)) == SENDS
    # A hold placed by an attempt killed before its messages were stored has no message: the
    # reaper releases it after `HOLD_GRACE` (2 minutes; here at once).
    monkeypatch.setattr(reaper, "HOLD_GRACE", timedelta(seconds=-1))

    def finished() -> bool:
        reaper.reap_stale()
        return all(m.status == "done" for m in ChatMessage.objects(role="assistant")) and (
            tokens_of(info["id"])["reserved"] == 0
        )

    wait_for(finished, 120, 0.5, what="every answer to finish and be charged")
    stored = sorted(str(m.id) for m in ChatMessage.objects(role="assistant"))
    assert stored == sorted(mids)  # no second answer for any send
    charges = [e["key"] for e in wallet._ledger().find({"kind": "charge"})]
    assert sorted(charges) == sorted(mids)  # one charge per send
    assert tokens_of(info["id"])["reserved"] == 0
    assert reconcile() == []
