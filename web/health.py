"""`GET /health`: MongoDB, Redis, the Celery broker and whether a worker answers."""

from __future__ import annotations

from flask import Blueprint, jsonify

from common import db
from common.redis_client import get_redis
from web.extensions import limiter

bp = Blueprint("health", __name__)


def _check(fn) -> dict:
    try:
        detail = fn()
        return {"status": "up", **(detail or {})}
    except Exception as exc:
        return {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}


def _broker() -> dict:
    from worker.celery_app import celery

    with celery.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return {}


def _workers() -> dict:
    from worker.celery_app import celery

    replies = celery.control.ping(timeout=1.0) or []
    if not replies:
        raise RuntimeError("no worker answered a ping within 1 s")
    return {"count": len(replies)}


@bp.get("/health")
@limiter.exempt
def health():
    checks = {
        "mongodb": _check(db.ping),
        "redis": _check(lambda: get_redis().ping() and {}),
        "broker": _check(_broker),
        "worker": _check(_workers),
    }
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
