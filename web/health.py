"""`GET /health`: MongoDB, Redis, the Celery broker and whether a worker answers.

The checks cost up to a couple of seconds (a worker ping waits 1 s for replies), so each app
runs them at most once per `HEALTH_CACHE_SECONDS`: callers meanwhile get the last answer, and
callers arriving while a check runs wait for it rather than starting another. The endpoint is
rate limited per client address (`RATE_LIMIT_HEALTH`), counted in the process's memory: the
shared counters live in Redis, and /health must answer (naming Redis) when Redis is down.
"""

from __future__ import annotations

import threading
import time

from celery import Celery
from flask import Blueprint, current_app, jsonify
from limits import parse as parse_limit
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from common import db
from common.errors import RateLimited
from common.redis_client import get_redis
from web import api_models as out
from web.errors import error_response
from web.extensions import ip_only, limiter
from web.openapi import operation
from web.settings import current_settings

bp = Blueprint("health", __name__)


def _check(fn) -> dict:
    try:
        detail = fn()
        return {"status": "up", **(detail or {})}
    except Exception as exc:
        return {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}


def _broker() -> dict:
    with _celery().connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return {}


def _workers() -> dict:
    app = _celery()
    with app.connection_for_write() as conn:
        replies = app.control.ping(timeout=1.0, connection=conn) or []
    if not replies:
        raise RuntimeError("no worker answered a ping within 1 s")
    return {"count": len(replies)}


def _celery() -> Celery:
    return current_app.extensions["celery"]


class _State:
    """One app's most recent checks, when they finished, and its callers' counters."""

    def __init__(self):
        self.lock = threading.Lock()
        self.at = float("-inf")
        self.checks: dict = {}
        self.callers = MovingWindowRateLimiter(MemoryStorage())


def _state() -> _State:
    return current_app.extensions.setdefault("aipasta.health", _State())


@bp.get("/health")
@limiter.exempt  # flask-limiter counts in Redis; see the module's docstring
@operation(
    "Health of MongoDB, Redis, the broker and the workers",
    tags=("Health",),
    auth=None,
    envelope=False,
    responses={200: out.Health},
    errors=(429,),
    error_schemas={503: out.Health},
    description="503 names what is down in `data.checks`; 429 past `RATE_LIMIT_HEALTH` per "
    "address (counted in the process's memory, so it answers when Redis is down).",
)
def health():
    limit = parse_limit(current_settings().rate_limit_health)
    if not _state().callers.hit(limit, ip_only()):
        return _refused(limit)
    checks = _recent_checks()
    healthy = all(c["status"] == "up" for c in checks.values())
    down = [name for name, c in checks.items() if c["status"] != "up"]
    body = {"status": "success" if healthy else "error", "data": {"checks": checks}}
    if not healthy:
        body.update(
            code="SERVICE_UNAVAILABLE",
            message="Down: " + ", ".join(down),
            details={"down": down},
        )
    return jsonify(body), 200 if healthy else 503


def _refused(limit):
    reset_at, _ = _state().callers.get_window_stats(limit, ip_only())
    retry = max(1, round(reset_at - time.time()))
    error = RateLimited(
        f"Too many requests ({limit}). Retry in {retry} s.",
        {"limit": str(limit), "retryAfter": retry},
    )
    return error_response(error, {"Retry-After": str(retry)})


def _recent_checks() -> dict:
    last = _state()
    with last.lock:  # one check at a time; the others wait for its answer
        if time.monotonic() - last.at >= current_settings().health_cache_seconds:
            last.checks = _run_checks()
            last.at = time.monotonic()
        return last.checks


def _run_checks() -> dict:
    checks = {
        "mongodb": _check(db.ping),
        "redis": _check(lambda: get_redis().ping() and {}),
        "broker": _check(_broker),
    }
    # Pinging workers through a dead broker only waits out kombu's retries.
    checks["worker"] = (
        _check(_workers)
        if checks["broker"]["status"] == "up"
        else {"status": "down", "error": "the broker is down"}
    )
    return checks
