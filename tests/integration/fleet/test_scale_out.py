"""Scale-out, proven with real processes: two gunicorn masters (2 gevent workers each) and two
Celery workers on one Redis and one nx-27017 serve one stream space. Also: metrics summed
across a master's processes, and one answer followed by its ids through both tiers' JSON logs."""

from __future__ import annotations

import os
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor, wait

import pytest
import requests

from common.conversations.models import ChatMessage
from common.wallet.models import LedgerEntry
from common.wallet.reconcile import reconcile
from tests.integration.fleet.conftest import (
    answers_run_by,
    log_lines,
    sample,
    scrape,
    start_fleet,
)
from tests.support.chatkit import FREE, tokens_of
from tests.support.http import auth
from tests.support.services import ROOT, VENV_BIN, wait_for
from tests.support.wsclient import WsClient


@pytest.fixture(scope="module")
def fleet(fleet_settings):
    stack = start_fleet(fleet_settings, "scale")
    yield stack
    stack.stop()


@pytest.fixture
def web_a(fleet, fresh):
    return fleet.webs[0]


@pytest.fixture
def web_b(fleet, fresh):
    return fleet.webs[1]


def runs_of(fleet, mids: set[str]) -> list[set[str]]:
    """Which of `mids` each worker ran, from its log (a task's last line follows its final
    frame, so it is waited for)."""

    def all_logged():
        ran = [answers_run_by(w) & mids for w in fleet.workers]
        return ran if set.union(*ran) == mids else None

    return wait_for(all_logged, 30, 0.2, "every answer's task log line")


def run_all(fn, n: int, clients: list[WsClient], timeout: float) -> list:
    """`fn(0..n-1)` on n threads. A client still waiting at `timeout` (the server's pings keep
    its socket from timing out) is closed, and the test fails saying which frames it had."""
    pool = ThreadPoolExecutor(n)
    futures = [pool.submit(fn, i) for i in range(n)]
    _, pending = wait(futures, timeout)
    if pending:
        stuck = [c.frames[-3:] for c in clients if not c.frames or c.frames[-1]["type"] == "chunk"]
        for client in clients:
            client.ws.abort()
        pool.shutdown(wait=True)
        raise AssertionError(f"{len(pending)} answers never ended; last frames: {stuck[:5]}")
    pool.shutdown()
    return [f.result() for f in futures]


def send(ws: WsClient, model: str = FREE, message: str = "hello") -> str:
    ws.send(type="chat.send", requestId=uuid.uuid4().hex, message=message, models=[model])
    accepted = ws.until(lambda f: f["type"] in ("accepted", "error"))
    assert accepted["type"] == "accepted", accepted
    return accepted["messages"][0]["messageId"]


def test_a_stream_started_through_web_a_resumes_through_web_b(web_a, web_b, fake, make_user):
    deltas = [f"r{i} " for i in range(40)]
    fake.scenario(FREE, deltas=deltas, interval=0.05)
    user, token = make_user()
    first = WsClient(web_a.ws_url, token)
    mid = send(first)
    first.until(lambda f: f["type"] == "chunk" and f["seq"] == 7)
    got = [c["seq"] for c in first.chunks(mid)]
    first.close()
    second = WsClient(web_b.ws_url, token)
    second.send(type="subscribe", messageId=mid, afterSeq=got[-1])
    done = second.finals([mid])[mid]
    assert done["type"] == "done", done
    resumed = [c["seq"] for c in second.chunks(mid)]
    assert got + resumed == list(range(1, 41))  # no gap, no duplicate
    text = "".join(c["delta"] for c in first.chunks(mid) + second.chunks(mid))
    assert text == "".join(deltas) == done["content"]
    second.close()
    assert LedgerEntry.objects(key=mid).count() == 1
    assert reconcile() == []


def test_a_cancel_sent_to_web_b_stops_answers_running_on_either_worker(
    fleet, web_a, web_b, fake, make_user
):
    fake.scenario(FREE, deltas=[f"c{i} " for i in range(400)], interval=0.05)
    user, token = make_user()
    ws_a = WsClient(web_a.ws_url, token)
    mids = [send(ws_a, message=f"long {i}") for i in range(8)]
    for mid in mids:
        ws_a.until(lambda f, m=mid: f["type"] == "chunk" and f["messageId"] == m)
    ws_b = WsClient(web_b.ws_url, token)
    for mid in mids:
        ws_b.send(type="cancel", messageId=mid)
    finals = ws_a.finals(mids)
    assert {f["type"] for f in finals.values()} == {"cancelled"}, finals
    for mid in mids:
        msg = ChatMessage.objects(id=mid).first()
        assert msg.status == "cancelled" and 0 < msg.lastSeq < 400
    ran = runs_of(fleet, set(mids))
    assert all(ran), ran  # both workers had some
    assert tokens_of(user["id"])["holds"] == {}
    ws_a.close()
    ws_b.close()
    assert reconcile() == []


def test_a_hundred_concurrent_answers_spread_over_both_workers_and_settle(
    fleet, web_a, web_b, fake, make_user
):
    deltas = [f"h{i} " for i in range(10)]
    fake.scenario(FREE, deltas=deltas, first_delay=0.2, interval=0.05)
    users = [make_user()[1] for _ in range(20)]
    sends_before = [
        sample(scrape(w.base_url + "/metrics"), "aipasta_sends_total", result="accepted", code="OK")
        for w in (web_a, web_b)
    ]
    done_before = [
        sample(
            scrape(f"http://127.0.0.1:{port}/metrics"),
            "aipasta_answers_total",
            provider="openrouter",
            status="done",
        )
        for port in fleet.metrics_ports
    ]

    clients: list[WsClient] = []

    def one(i: int) -> tuple[str, list[dict], dict, str]:
        web = (web_a, web_b)[i % 2]
        ws = WsClient(web.ws_url, users[i % 20])
        clients.append(ws)
        try:
            mid = send(ws, message=f"answer {i}")
            final = ws.finals([mid], timeout=120)[mid]
            return mid, ws.chunks(mid), final, web.base_url
        finally:
            ws.close()

    results = run_all(one, 100, clients, timeout=240)
    for _mid, chunks, final, _ in results:
        assert final["type"] == "done", final
        assert [c["seq"] for c in chunks] == list(range(1, 11))
        assert "".join(c["delta"] for c in chunks) == "".join(deltas)
    mids = {r[0] for r in results}
    ran = runs_of(fleet, mids)
    assert all(len(r) > 0 for r in ran), [len(r) for r in ran]
    # Counted here: nx-27017 counts nothing for an ObjectId `$in` filter (README).
    done = {str(m.id) for m in ChatMessage.objects(status="done").only("id")}
    assert mids <= done
    assert LedgerEntry.objects(key__in=list(mids)).count() == 100
    assert reconcile() == []
    cli = subprocess.run(
        [str(VENV_BIN / "flask"), "reconcile"],
        cwd=ROOT,
        env={**os.environ, **fleet.env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 0, cli.stdout + cli.stderr

    # Each master's /metrics sums its two processes: sends through A and through B, exactly.
    for web, before in zip((web_a, web_b), sends_before, strict=True):
        text = scrape(web.base_url + "/metrics")
        accepted = sample(text, "aipasta_sends_total", result="accepted", code="OK")
        assert accepted - before == 50
        assert sample(text, "aipasta_holds_open") == 0
        assert sample(text, "aipasta_queue_depth", queue="chat") == 0
    # Each worker's own endpoint counts the answers it ran; together, all of them.
    done_after = [
        sample(
            scrape(f"http://127.0.0.1:{port}/metrics"),
            "aipasta_answers_total",
            provider="openrouter",
            status="done",
        )
        for port in fleet.metrics_ports
    ]
    per_worker = [a - b for a, b in zip(done_after, done_before, strict=True)]
    assert per_worker == [len(r) for r in ran], (per_worker, [len(r) for r in ran])
    ttft = sample(
        scrape(f"http://127.0.0.1:{fleet.metrics_ports[0]}/metrics"),
        "aipasta_answer_ttft_seconds_count",
        provider="openrouter",
    )
    assert ttft >= per_worker[0]


def test_one_answer_can_be_followed_through_both_tiers_logs(fleet, web_a, fake, make_user):
    fake.scenario(FREE, deltas=["x ", "y "])
    user, token = make_user()
    res = requests.post(
        web_a.base_url + "/api/chat",
        json={"message": "trace me", "modelId": FREE, "wait": True},
        headers={**auth(token), "X-Request-ID": "follow-me-42"},
        timeout=60,
    )
    assert res.status_code == 200, res.text
    assert res.headers["X-Request-ID"] == "follow-me-42"
    mid = res.json()["data"]["message"]["id"]

    def traced():
        web = [
            line
            for line in log_lines(web_a.proc.log_path)
            if line.get("requestId") == "follow-me-42"
        ]
        work = [
            line
            for w in fleet.workers
            for line in log_lines(w.log_path)
            if line.get("messageId") == mid
        ]
        return (web, work) if web and work else None

    web, work = wait_for(traced, 20, 0.2, "both tiers' log lines for the answer")
    assert any(line.get("messageId") == mid for line in web)  # the web enqueued it
    assert any(line["logger"] == "aipasta.access" for line in web)
    assert all(line["requestId"] == "follow-me-42" for line in work)  # the worker knew why
    assert {line["pid"] for line in web}.isdisjoint({line["pid"] for line in work})
