"""A short per-process memory of catalog models for the hot path (send and stream).

Both tiers look a model up for every message; the catalog changes at most every few minutes,
so a few seconds of memory saves a database round trip on the path to the first delta.

When an entry expires, one caller re-reads it while the others keep using the old copy: under
load (hundreds of sends at once) an expiry costs one query, not one per waiting send.
"""

from __future__ import annotations

import threading
import time

from common.catalog import service

TTL_SECONDS = 10.0

_cache: dict[str, tuple[float, object]] = {}
_refreshing: set[str] = set()
_lock = threading.Lock()


def model(model_id: str):
    """`common.catalog.service.get_model`, remembered for `TTL_SECONDS` (errors are not)."""
    now = time.monotonic()
    hit = _cache.get(model_id)
    if hit and now - hit[0] < TTL_SECONDS:
        return hit[1]
    if hit:
        with _lock:
            if model_id in _refreshing:
                return hit[1]  # someone is re-reading it; this copy is seconds old
            _refreshing.add(model_id)
    try:
        found = service.get_model(model_id)
        with _lock:
            _cache[model_id] = (time.monotonic(), found)
        return found
    finally:
        if hit:
            with _lock:
                _refreshing.discard(model_id)
