"""What an operator sees of the web tier: request ids, request metrics, access log, `/metrics`.

- Every request gets an id: the client's `X-Request-ID` when it is a sane token (1-128 of
  `A-Za-z0-9._:-`), else a new one. It is returned in the response's `X-Request-ID` and tags every
  log line written while the request runs (`config.logging`), the websocket's included.
- Every request is counted and timed by route template (`/api/chat/sessions/<session_id>`, never
  the concrete path), except `/ws`, whose "request" lasts as long as the socket.
- `GET /metrics` is the Prometheus text format (docs/operations.md): with `METRICS_TOKEN` set it
  needs `Authorization: Bearer <token>` (401 otherwise); without one only loopback clients may
  read it (403 otherwise).
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Blueprint, Flask, Response, g, request

from common import metrics
from common.errors import Forbidden, Unauthorized
from config.logging import request_id
from web.extensions import limiter

log = logging.getLogger("aipasta.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
UNTIMED_ROUTES = ("/ws",)

bp = Blueprint("observability", __name__)


@bp.get("/metrics")
@limiter.exempt
def scrape():
    ok, refuse = metrics.allowed(request.headers.get("Authorization"), request.remote_addr)
    if not ok:
        if refuse == 401:
            raise Unauthorized("Send Authorization: Bearer <METRICS_TOKEN>.")
        raise Forbidden("Metrics are served to loopback clients only (or set METRICS_TOKEN).")
    body, content_type = metrics.exposition(fleet=True)
    return Response(body, content_type=content_type)


def init_observability(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_finish)
    app.teardown_request(_forget)
    app.register_blueprint(bp)


def _start() -> None:
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
    g.request_started = time.perf_counter()
    g.request_id_token = request_id.set(g.request_id)


def _finish(response: Response) -> Response:
    rid = getattr(g, "request_id", None)
    if rid:
        response.headers["X-Request-ID"] = rid
    started = getattr(g, "request_started", None)
    route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
    if started is not None and route not in UNTIMED_ROUTES:
        seconds = time.perf_counter() - started
        metrics.http_request(request.method, route, response.status_code, seconds)
        log.info(
            "%s %s %s %.1fms",
            request.method,
            route,
            response.status_code,
            seconds * 1000,
            extra={"status": response.status_code, "durationMs": round(seconds * 1000, 1)},
        )
    return response


def _forget(_exc) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        request_id.reset(token)
