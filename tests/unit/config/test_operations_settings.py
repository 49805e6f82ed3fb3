"""The operations settings: log format, metrics directory, drain window, Flower's password."""

from __future__ import annotations

import os

import pytest

from config.settings import ConfigError, export_library_environment, load_settings


def test_an_unknown_log_format_refuses_to_start():
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        load_settings({"LOG_FORMAT": "xml"})
    assert load_settings({"LOG_FORMAT": "json"}).log_format == "json"


def test_operations_settings_are_read_and_typed():
    s = load_settings(
        {
            "METRICS_TOKEN": "t0ken",
            "WORKER_METRICS_PORT": "9100",
            "WORKER_DRAIN_SECONDS": "12.5",
            "FLOWER_BASIC_AUTH": "ops:xK9#mQ2$vL7pW4",
        }
    )
    assert (s.metrics_token, s.worker_metrics_port, s.worker_drain_seconds) == ("t0ken", 9100, 12.5)
    assert s.worker_metrics_bind == "127.0.0.1" and s.flower_basic_auth.startswith("ops:")


def test_the_multiprocess_directory_from_settings_reaches_prometheus_client(tmp_path, monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    target = tmp_path / "prom"
    export_library_environment(load_settings({"PROMETHEUS_MULTIPROC_DIR": str(target)}))
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(target) and target.is_dir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")  # set but empty would turn the mode on
    export_library_environment(load_settings({}))
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
