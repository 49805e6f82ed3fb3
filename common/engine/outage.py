"""Riding out short outages of our own dependencies (MongoDB, Redis) with bounded retries.

A chat answer's own writes — its settlement in MongoDB, its frames in Redis — are retried with
backoff while the error is one a restart or a network blip causes, until they succeed or
`OUTAGE_RETRY_SECONDS` pass. What gives up is left to the reaper (docs/chat.md, "Outages").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from pymongo.errors import AutoReconnect, ConnectionFailure, NetworkTimeout, PyMongoError
from pymongo.errors import ServerSelectionTimeoutError as SelectionTimeout
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeout

from config import get_settings

log = logging.getLogger(__name__)
T = TypeVar("T")

DB_TRANSIENT = (AutoReconnect, ConnectionFailure, NetworkTimeout, SelectionTimeout)
REDIS_TRANSIENT = (RedisConnectionError, RedisTimeout)
TRANSIENT = DB_TRANSIENT + REDIS_TRANSIENT
# Any failure of our own stores (used to name the error: ours, never the provider's).
OUR_DEPENDENCIES = (PyMongoError, RedisError)

FIRST_WAIT, MAX_WAIT = 0.1, 2.0


def bound() -> float:
    return float(get_settings().outage_retry_seconds)


def retrying(
    call: Callable[[], T],
    what: str,
    errors: tuple[type[BaseException], ...] = TRANSIENT,
    seconds: float | None = None,
) -> T:
    """`call()`, again after each transient error (backoff 0.1 s doubling to 2 s) until it
    succeeds or `seconds` (default `OUTAGE_RETRY_SECONDS`) pass; then the last error is raised."""
    deadline = time.monotonic() + (bound() if seconds is None else seconds)
    wait = FIRST_WAIT
    while True:
        try:
            return call()
        except errors as exc:
            if time.monotonic() + wait > deadline:
                raise
            log.warning("%s failed (%s); retrying in %.1fs", what, type(exc).__name__, wait)
            time.sleep(wait)
            wait = min(wait * 2, MAX_WAIT)
