"""Fixtures for the fleet tests: several web and worker processes on one Redis and one nx-27017."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
import requests

from tests.support.fixtures import ready
from tests.support.services import free_port
from tests.support.stack import Stack

FLEET_ENV = {"LOG_FORMAT": "json", "LOG_LEVEL": "INFO"}


@pytest.fixture(scope="module")
def fleet_settings(base_settings, fake):
    # These tests are about scale-out, not dead-worker detection (tests/integration/chat/
    # test_chat_outages.py covers the 6 s default): 100 answers over 2 webs + 2 workers starve a
    # 2-core CI machine enough that a 6 s lease can lapse under a live run, which then ends
    # STREAM_INTERRUPTED (uncharged). A 30 s lease keeps this test about what it tests.
    return base_settings.with_overrides(openrouter_base_url=fake.base_url, hold_lease_seconds=30)


def start_fleet(settings, name: str, webs: int = 2, workers: int = 2, **env: str) -> Stack:
    """`webs` gunicorn masters of 2 processes each and `workers` Celery workers, each worker
    with its own metrics port (`stack.metrics_ports`)."""
    stack = Stack(settings, name=name, web_workers=2, webs=webs, workers=0, env=FLEET_ENV | env)
    stack.metrics_ports = []
    for _ in range(workers):
        port = free_port()
        stack.metrics_ports.append(port)
        stack.start_worker(env={"WORKER_METRICS_PORT": str(port)})
    try:
        return stack.start()
    except Exception:
        stack.stop()
        raise


@pytest.fixture
def fresh(fleet_settings, fake):
    """Per test: these settings in the test process, a reset fake and a synced catalog."""
    ready(fleet_settings, fake)


def log_lines(path: Path) -> list[dict]:
    """The JSON log lines a process wrote (other output, e.g. Celery's banner, is skipped)."""
    out = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):  # a line cut short by a concurrent write
                out.append(json.loads(line))
    return out


def answers_run_by(proc) -> set[str]:
    """Message ids of the answers a worker process ran, from its task log lines."""
    return {
        line["messageId"]
        for line in log_lines(proc.log_path)
        if line.get("messageId") and line["msg"].startswith("answer task")
    }


def scrape(url: str, token: str | None = None) -> str:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    res = requests.get(url, headers=headers, timeout=10)
    res.raise_for_status()
    return res.text


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value from the Prometheus text format (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    want = dict(labels)
    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == want:
                total += s.value
    return total
