"""`GET /health`: MongoDB, Redis, the Celery broker and whether a worker answers."""

from __future__ import annotations

from flask import Blueprint, jsonify

from common import db
from common.redis_client import get_redis
from config import get_settings
from web.extensions import limiter

bp = Blueprint("health", __name__)


def _check(fn) -> dict:
    try:
        detail = fn()
        return {"status": "up", **(detail or {})}
    except Exception as exc:
        return {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}


def _broker() -> dict:
    with _celery().connection_for_write(url=get_settings().broker_url) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return {}


def _workers() -> dict:
    app = _celery()
    with app.connection_for_write(url=get_settings().broker_url) as conn:
        replies = app.control.ping(timeout=1.0, connection=conn) or []
    if not replies:
        raise RuntimeError("no worker answered a ping within 1 s")
    return {"count": len(replies)}


def _celery():
    """The worker's Celery app; the broker URL is taken from the settings at each check, since
    the app object was configured from whatever settings were current when it was imported."""
    from worker.celery_app import celery

    return celery


@bp.get("/health")
@limiter.exempt
def health():
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
