"""The hot path's per-process memory of catalog models (common.catalog.cache)."""

from __future__ import annotations

import threading
import time

import pytest

from common.catalog import cache as catalog_cache
from common.catalog import service


def test_an_expired_model_is_read_again_by_one_caller_while_the_others_keep_the_old_copy(
    monkeypatch,
):
    reads = []
    reading = threading.Event()

    def slow_get_model(model_id):
        reads.append(model_id)
        reading.set()
        time.sleep(0.3)  # a database round trip under load
        return f"{model_id} v{len(reads)}"

    monkeypatch.setattr(service, "get_model", slow_get_model)
    monkeypatch.setattr(catalog_cache, "_cache", {})
    assert catalog_cache.model("m") == "m v1"
    assert catalog_cache.model("m") == "m v1" and len(reads) == 1  # remembered

    reading.clear()
    catalog_cache._cache["m"] = (time.monotonic() - catalog_cache.TTL_SECONDS - 1, "m v1")
    got = []
    refresher = threading.Thread(target=lambda: got.append(catalog_cache.model("m")))
    refresher.start()
    assert reading.wait(5)
    others = [catalog_cache.model("m") for _ in range(20)]  # while the re-read is in flight
    refresher.join()
    assert others == ["m v1"] * 20 and got == ["m v2"] and len(reads) == 2
    assert catalog_cache.model("m") == "m v2"


def test_a_failed_read_is_not_remembered(monkeypatch):
    calls = []

    def failing(model_id):
        calls.append(model_id)
        raise LookupError(model_id)

    monkeypatch.setattr(service, "get_model", failing)
    monkeypatch.setattr(catalog_cache, "_cache", {})
    for _ in range(2):
        with pytest.raises(LookupError):
            catalog_cache.model("gone")
    assert calls == ["gone", "gone"]
