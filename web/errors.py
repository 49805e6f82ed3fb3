"""The one place where errors become the documented JSON."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import HTTPException

from common.errors import (
    AppError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    ValidationError,
)

log = logging.getLogger(__name__)

_HTTP_TO_APP = {
    400: ValidationError,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
    503: ServiceUnavailable,
}


def error_response(error: AppError, headers: dict | None = None):
    from flask import g

    body = error.to_dict()
    snapshot = getattr(g, "user_snapshot", None)
    if snapshot is not None:
        body["user"] = snapshot()
    return jsonify(body), error.status, headers or {}


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(AppError)
    def handle_app_error(error: AppError):
        return error_response(error)

    @app.errorhandler(RateLimitExceeded)
    def handle_rate_limit(error: RateLimitExceeded):
        retry_after = _retry_after(app)
        return error_response(
            RateLimited(
                f"Too many requests ({error.description}). Retry in {retry_after} s.",
                {"limit": str(error.description), "retryAfter": retry_after},
            ),
            {"Retry-After": str(retry_after)},
        )

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException):
        cls = _HTTP_TO_APP.get(error.code)
        if cls is None:
            err = AppError(error.description)
            err.status, err.code = (
                error.code or 500,
                (error.name or "ERROR").upper().replace(" ", "_"),
            )
            return error_response(err)
        message = None if error.code in (404, 405, 413) else error.description
        return error_response(cls(message))

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        log.exception("unhandled error")
        return error_response(AppError())


def _retry_after(app: Flask) -> int:
    import math
    import time

    limiter = app.extensions["limiter"]
    for ext in limiter if isinstance(limiter, set) else [limiter]:
        limit = ext.current_limit
        if limit is not None:
            return max(1, math.ceil(limit.reset_at - time.time()))
    return 60
