"""One Redis connection pool per process."""

from __future__ import annotations

import os

import redis
from redis.driver_info import DriverInfo

from config import get_settings

MAX_CONNECTIONS = 400
# Given once: otherwise every new connection looks the library's version up in the installed
# packages' metadata (a file-system scan), which showed as a top CPU cost under load.
DRIVER_INFO = DriverInfo(lib_version=redis.__version__)

_state: dict = {"pid": None, "url": None, "client": None}


def get_redis() -> redis.Redis:
    url = get_settings().redis_url
    if _state["pid"] != os.getpid() or _state["url"] != url:
        _state.update(
            pid=os.getpid(),
            url=url,
            # A blocking pool: under many greenlets/threads a caller waits for a free connection
            # instead of failing (redis-py 8 raises MaxConnectionsError past 100 by default).
            client=redis.Redis(
                connection_pool=redis.BlockingConnectionPool.from_url(
                    url,
                    max_connections=MAX_CONNECTIONS,
                    timeout=20,
                    decode_responses=True,
                    health_check_interval=30,
                    driver_info=DRIVER_INFO,
                )
            ),
        )
    return _state["client"]
