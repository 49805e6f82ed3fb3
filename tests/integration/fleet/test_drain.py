"""Deploys without users noticing: a web process's SIGTERM moves its sockets to another web
(close 4503, resume with `subscribe`); a worker's SIGTERM lets answers in flight finish within
the drain window, and past it ends them `interrupted` with the hold released and the client told.
"""

from __future__ import annotations

import json
import signal
import uuid

import pytest
from websocket import ABNF

from common.conversations.models import ChatMessage
from common.wallet.models import LedgerEntry
from common.wallet.reconcile import reconcile
from tests.integration.fleet.conftest import FLEET_ENV, log_lines
from tests.support.chatkit import FREE, tokens_of
from tests.support.stack import Stack
from tests.support.wsclient import WsClient
from web.drain import CLOSE_RECONNECT


@pytest.fixture(scope="module")
def fleet(fleet_settings):
    stack = Stack(fleet_settings, name="drain", webs=2, workers=0, env=FLEET_ENV)
    stack.start_worker()
    try:
        yield stack.start()
    finally:
        stack.stop()


def only_worker(stack: Stack, drain_seconds: float):
    """Stop every worker, then start one with this drain window (so it runs every answer)."""
    for proc in stack.workers:
        proc.stop(timeout=60)
    proc = stack.start_worker(env={"WORKER_DRAIN_SECONDS": str(drain_seconds)})
    stack.wait_healthy()
    return proc


def read_until_closed(client: WsClient, timeout: float = 30.0) -> tuple[int, str]:
    """Read frames (kept in `client.frames`) until the server closes; its code and reason."""
    client.ws.settimeout(timeout)
    while True:
        opcode, data = client.ws.recv_data(control_frame=True)
        if opcode == ABNF.OPCODE_CLOSE:
            return int.from_bytes(data[:2], "big"), data[2:].decode()
        if opcode == ABNF.OPCODE_TEXT:
            client.frames.append(json.loads(data))


def send(ws: WsClient, message: str = "hello") -> str:
    ws.send(type="chat.send", requestId=uuid.uuid4().hex, message=message, models=[FREE])
    accepted = ws.until(lambda f: f["type"] in ("accepted", "error"))
    assert accepted["type"] == "accepted", accepted
    return accepted["messages"][0]["messageId"]


def test_web_sigterm_sends_4503_and_the_client_resumes_on_another_web(
    fleet, fresh, fake, make_user
):
    only_worker(fleet, 30)
    deltas = [f"m{i} " for i in range(60)]
    fake.scenario(FREE, deltas=deltas, interval=0.05)
    user, token = make_user()
    web_a, web_b = fleet.webs
    streaming = WsClient(web_a.ws_url, token)
    idle = WsClient(web_a.ws_url, token)
    idle.send(type="ping")
    idle.until(lambda f: f["type"] == "pong")
    mid = send(streaming)
    streaming.until(lambda f: f["type"] == "chunk" and f["seq"] >= 5)

    fleet.terminate_web(web_a)
    code, reason = read_until_closed(streaming)
    assert code == CLOSE_RECONNECT and "reconnect" in reason
    assert read_until_closed(idle)[0] == CLOSE_RECONNECT
    assert web_a.proc.popen.wait(30) == 0  # it drained and left on its own
    got = [c["seq"] for c in streaming.chunks(mid)]
    assert got == list(range(1, len(got) + 1)) and len(got) < 60, got

    resumed = WsClient(web_b.ws_url, token)
    resumed.send(type="subscribe", messageId=mid, afterSeq=got[-1])
    done = resumed.finals([mid])[mid]
    assert done["type"] == "done", done
    assert got + [c["seq"] for c in resumed.chunks(mid)] == list(range(1, 61))
    text = "".join(c["delta"] for c in streaming.chunks(mid) + resumed.chunks(mid))
    assert text == "".join(deltas) == done["content"]
    # Charged once, for the one answer.
    assert LedgerEntry.objects(key=mid).count() == 1
    assert tokens_of(user["id"])["balance"] == 10_000 - done["charged"]
    assert any(
        line.get("msg", "").startswith("draining: telling")
        for line in log_lines(web_a.proc.log_path)
    )
    resumed.close()
    assert reconcile() == []


def five_answers(stack: Stack, fake, make_user, deltas: int) -> tuple[WsClient, list[str], str]:
    fake.scenario(FREE, deltas=[f"t{i} " for i in range(deltas)], interval=0.1)
    user, token = make_user()
    ws = WsClient(stack.webs[-1].ws_url, token)
    mids = [send(ws, message=f"answer {i}") for i in range(5)]
    for mid in mids:  # all five are streaming on the worker
        ws.until(lambda f, m=mid: f["type"] == "chunk" and f["messageId"] == m and f["seq"] >= 2)
    return ws, mids, user["id"]


def test_worker_sigterm_lets_answers_in_flight_finish_within_the_drain_window(
    fleet, fresh, fake, make_user
):
    worker = only_worker(fleet, 60)
    ws, mids, user_id = five_answers(fleet, fake, make_user, deltas=30)
    worker.popen.send_signal(signal.SIGTERM)
    finals = ws.finals(mids, timeout=60)
    for mid in mids:
        assert finals[mid]["type"] == "done", finals[mid]
        assert [c["seq"] for c in ws.chunks(mid)] == list(range(1, 31))
    assert worker.popen.wait(60) == 0
    assert tokens_of(user_id)["holds"] == {}
    ws.close()
    assert reconcile() == []


def test_worker_sigterm_past_the_drain_window_ends_answers_interrupted_and_released(
    fleet, fresh, fake, make_user
):
    worker = only_worker(fleet, 1)
    ws, mids, user_id = five_answers(fleet, fake, make_user, deltas=300)
    worker.popen.send_signal(signal.SIGTERM)
    finals = ws.finals(mids, timeout=60)
    for mid in mids:
        final = finals[mid]
        assert final["type"] == "error" and final["code"] == "STREAM_INTERRUPTED", final
        seqs = [c["seq"] for c in ws.chunks(mid)]
        assert seqs == list(range(1, len(seqs) + 1)) and final["seq"] == len(seqs) < 300
        msg = ChatMessage.objects(id=mid).first()
        assert msg.status == "interrupted" and msg.charged == 0
        assert msg.content == "".join(f"t{i} " for i in range(len(seqs)))
    assert worker.popen.wait(60) == 0  # the tasks noticed and returned: a clean exit
    after = tokens_of(user_id)
    assert after["holds"] == {} and after["reserved"] == 0 and after["balance"] == 10_000
    drained = [line for line in log_lines(worker.log_path) if "drain window over" in line["msg"]]
    assert drained and "5 answer(s)" in drained[0]["msg"]
    ws.close()
    assert reconcile() == []
