"""`/metrics` (content and protection), request ids, and structured JSON logs."""

from __future__ import annotations

import json
import logging
import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from common.catalog.service import invalidate_cache, sync_provider
from config.logging import configure_logging, log_context
from tests.support.chatkit import PAID
from tests.support.http import auth

OBJECT_ID = re.compile(r"[0-9a-f]{24}")


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    res = client.get("/metrics", headers=headers)
    assert res.status_code == 200, res.data[:300]
    assert res.mimetype == "text/plain"
    text = res.get_data(as_text=True)
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def catalog(settings_override, fake_openrouter):
    settings_override(openrouter_base_url=fake_openrouter.base_url)
    invalidate_cache()
    sync_provider("openrouter")


def test_metrics_count_requests_by_route_template_and_sends_by_code(client, make_user, catalog):
    user, token = make_user()
    before = scrape(client)
    session = client.get("/api/chat/sessions/chat_nosuchsession", headers=auth(token))
    assert session.status_code == 404
    paid = client.post("/api/chat", json={"message": "hi", "modelId": PAID}, headers=auth(token))
    assert paid.status_code == 403 and paid.get_json()["code"] == "PAYWALL"
    after = scrape(client)

    route = "/api/chat/sessions/<session_id>"
    requests_total = "aipasta_http_requests_total"
    assert value(after, requests_total, method="GET", route=route, status="404") == (
        value(before, requests_total, method="GET", route=route, status="404") + 1
    )
    refused = {"result": "refused", "code": "PAYWALL"}
    assert value(after, "aipasta_sends_total", **refused) == (
        value(before, "aipasta_sends_total", **refused) + 1
    )
    latency = "aipasta_http_request_duration_seconds_count"
    assert value(after, latency, method="POST", route="/api/chat") >= 1
    # Scrape-time readings of the fleet: no hold is open, the queues are read from Redis.
    assert value(after, "aipasta_holds_open") == 0
    assert value(after, "aipasta_collector_up", reading="queues") == 1
    assert ("aipasta_queue_depth", (("queue", "chat"),)) in after


def test_metric_labels_never_carry_ids(client, make_user, catalog):
    user, token = make_user()
    client.get(f"/api/chat/sessions/chat_{'ab' * 12}", headers=auth(token))
    client.get(f"/api/chat/messages/{'cd' * 12}", headers=auth(token))
    text = client.get("/metrics").get_data(as_text=True)
    labels = " ".join(line.split("{", 1)[1] for line in text.splitlines() if "{" in line)
    assert not OBJECT_ID.search(labels), labels[:500]
    assert user["id"] not in text and user["email"] not in text


def test_metrics_need_the_bearer_token_when_one_is_set(client, settings_override):
    settings_override(metrics_token="scrape-secret-1")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics").get_json()["code"] == "UNAUTHORIZED"
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret-1"})
    assert right.status_code == 200 and b"aipasta_http_requests_total" in right.data


def test_metrics_without_a_token_are_for_loopback_clients_only(client):
    remote = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert remote.status_code == 403 and remote.get_json()["code"] == "FORBIDDEN"
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200


def test_request_id_is_honoured_or_generated_and_returned(client):
    given = client.get("/api/plans", headers={"X-Request-ID": "lb-7f3a.42"})
    assert given.headers["X-Request-ID"] == "lb-7f3a.42"
    made = client.get("/api/plans")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])
    bad = client.get("/api/plans", headers={"X-Request-ID": "x" * 500})
    assert re.fullmatch(r"[0-9a-f]{32}", bad.headers["X-Request-ID"])
    assert made.headers["X-Request-ID"] != bad.headers["X-Request-ID"]


@pytest.fixture
def json_logs(capsys, base_settings):
    configure_logging("INFO", "json")
    capsys.readouterr()

    def lines() -> list[dict]:
        err = capsys.readouterr().err
        return [json.loads(line) for line in err.splitlines() if line]

    yield lines
    configure_logging(base_settings.log_level, base_settings.log_format)


def test_json_logs_carry_the_ids_of_their_context(json_logs):
    log = logging.getLogger("aipasta.test")
    with log_context(request="req-1", message="0123456789abcdef01234567"):
        log.info("inside %s", "both")
        with log_context(message="fedcba9876543210fedcba98"):
            log.warning("nested")
    log.info("outside")
    inside, nested, outside = json_logs()
    assert inside["msg"] == "inside both" and inside["level"] == "INFO"
    assert (inside["requestId"], inside["messageId"]) == ("req-1", "0123456789abcdef01234567")
    assert (nested["requestId"], nested["messageId"]) == ("req-1", "fedcba9876543210fedcba98")
    assert "requestId" not in outside and "messageId" not in outside
    assert {"ts", "logger", "pid"} <= set(inside)


def test_the_access_log_line_carries_the_request_id(client, json_logs):
    client.get("/api/plans", headers={"X-Request-ID": "trace-me-1"})
    access = [line for line in json_logs() if line["logger"] == "aipasta.access"]
    assert access and access[-1]["requestId"] == "trace-me-1"
    assert access[-1]["status"] == 200 and access[-1]["msg"].startswith("GET /api/plans 200")


def test_the_worker_endpoint_serves_its_metrics_under_the_same_token_rule(settings_override):
    import requests

    from common import metrics
    from tests.support.services import free_port, wait_for

    port = free_port()
    metrics.serve(port, "127.0.0.1")
    url = f"http://127.0.0.1:{port}/metrics"
    wait_for(lambda: requests.get(url, timeout=2), 10, 0.1, "the worker metrics endpoint")
    assert requests.get(url, timeout=5).status_code == 200  # loopback, no token configured
    assert requests.get(url.replace("/metrics", "/other"), timeout=5).status_code == 404
    settings_override(metrics_token="worker-scrape-secret")
    assert requests.get(url, timeout=5).status_code == 401
    wrong = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=5)
    assert wrong.status_code == 401
    right = requests.get(url, headers={"Authorization": "Bearer worker-scrape-secret"}, timeout=5)
    assert right.status_code == 200 and "aipasta_answers_total" in right.text
    assert "aipasta_holds_open" not in right.text  # fleet readings come from the web tier only
