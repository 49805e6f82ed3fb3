"""One Redis connection pool per process."""

from __future__ import annotations

import os

import redis

from config import get_settings

_state: dict = {"pid": None, "url": None, "client": None}


def get_redis() -> redis.Redis:
    url = get_settings().redis_url
    if _state["pid"] != os.getpid() or _state["url"] != url:
        _state.update(
            pid=os.getpid(),
            url=url,
            client=redis.Redis.from_url(url, decode_responses=True, health_check_interval=30),
        )
    return _state["client"]
