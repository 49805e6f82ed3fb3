"""A short per-process memory of catalog models for the hot path (send and stream).

Both tiers look a model up for every message; the catalog changes at most every few minutes,
so a few seconds of memory saves a database round trip on the path to the first delta.
"""

from __future__ import annotations

import threading
import time

TTL_SECONDS = 10.0

_cache: dict[str, tuple[float, object]] = {}
_lock = threading.Lock()


def model(model_id: str):
    """`common.catalog.service.get_model`, remembered for `TTL_SECONDS` (errors are not)."""
    now = time.monotonic()
    hit = _cache.get(model_id)
    if hit and now - hit[0] < TTL_SECONDS:
        return hit[1]
    from common.catalog.service import get_model

    found = get_model(model_id)
    with _lock:
        _cache[model_id] = (now, found)
    return found
