"""The deployment files parse and agree with the code (no Docker engine here to run them)."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from common import metrics
from tests.support.services import ROOT
from worker.flower import problem

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_every_compose_service_has_a_health_check():
    assert {name for name, s in SERVICES.items() if "healthcheck" not in s} == set()


def test_the_metrics_stack_is_optional_and_local():
    optional = {name for name, s in SERVICES.items() if "metrics" in s.get("profiles", [])}
    assert optional == {"prometheus", "grafana"}
    for name in optional:
        assert all(p.startswith("127.0.0.1:") for p in SERVICES[name]["ports"]), name
    assert SERVICES["prometheus"]["secrets"] == ["metrics_token"]
    assert COMPOSE["secrets"]["metrics_token"] == {"environment": "METRICS_TOKEN"}
    for mount in SERVICES["prometheus"]["volumes"] + SERVICES["grafana"]["volumes"]:
        source = mount.split(":")[0]
        if source.startswith("./"):
            assert (ROOT / source).exists(), source


def test_web_and_worker_are_set_up_for_metrics_and_drain():
    web, worker = SERVICES["web"], SERVICES["worker"]
    assert "-c gunicorn.conf.py" in web["command"]
    assert web["environment"]["PROMETHEUS_MULTIPROC_DIR"]
    assert worker["environment"]["WORKER_METRICS_PORT"] == 9100
    # Docker's SIGKILL comes after the drain window, not before.
    assert int(worker["stop_grace_period"].rstrip("s")) > 30
    assert "python -m worker.flower" in SERVICES["flower"]["command"]
    assert "gunicorn.conf.py" in (ROOT / "Dockerfile").read_text()


def test_prometheus_scrapes_both_tiers_with_the_token():
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"aipasta-web", "aipasta-worker"}
    for job in jobs.values():
        assert job["authorization"]["credentials_file"] == "/run/secrets/metrics_token"
    assert jobs["aipasta-web"]["dns_sd_configs"][0]["names"] == ["web"]
    assert jobs["aipasta-worker"]["dns_sd_configs"][0]["port"] == 9100


def test_every_dashboard_query_uses_metrics_the_code_exports():
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/aipasta.json").read_text())
    exported = {m._name for m in vars(metrics).values() if hasattr(m, "_name")}
    exported |= {"aipasta_holds_open", "aipasta_tokens_held", "aipasta_queue_depth"}
    used = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used |= set(re.findall(r"aipasta_[a-z_]+", target["expr"]))
    assert used
    suffixes = ("_total", "_bucket", "_count", "_sum")
    unknown = {
        name for name in used if not any(name.removesuffix(s) in exported for s in ("", *suffixes))
    }
    assert unknown == set(), unknown
    provider = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/dashboards/aipasta.yml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


@pytest.mark.parametrize(
    "auth",
    ["", "ops", "ops:", "ops:change-me", "ops:short", "admin:Password123456", "a:xK9#mQ2$vL7p,b:x"],
)
def test_flower_refuses_a_missing_placeholder_or_short_password(auth):
    assert problem(auth)


def test_flower_accepts_real_passwords():
    assert problem("ops:xK9#mQ2$vL7pW4") is None
    assert problem("ops:xK9#mQ2$vL7pW4,audit:Zt5!rN8@cQ3yH6") is None
