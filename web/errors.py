"""The one place where errors become the documented JSON."""

from __future__ import annotations

import logging

import pymongo.errors
import redis.exceptions
from flask import Flask, g, jsonify, request
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import HTTPException

from common.errors import (
    AppError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    UnsupportedMediaType,
    ValidationError,
)
from web.openai import errors as openai_errors

log = logging.getLogger(__name__)

# Our own dependencies failing is 503 SERVICE_UNAVAILABLE (retry later), not a bug (500).
_DEPENDENCY_DOWN = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    pymongo.errors.ConnectionFailure,
    pymongo.errors.ServerSelectionTimeoutError,
)

# An SDK pointed at an endpoint we do not have (the Responses API, embeddings, ...) learns which
# ones there are instead of a bare "Not found.".
_V1_NOT_FOUND = (
    "No such endpoint: {method} {path}. This API offers GET /v1/models, GET /v1/models/{{model}}, "
    "POST /v1/chat/completions and POST /v1/completions (docs/openai.md)."
)

_HTTP_TO_APP = {
    400: ValidationError,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    503: ServiceUnavailable,
}


def error_response(error: AppError, headers: dict | None = None):
    if openai_errors.applies():  # `/v1` answers errors in OpenAI's shape
        headers = dict(headers or {})
        wait = openai_errors.retry_after(error)
        if wait is not None:
            headers.setdefault("Retry-After", str(wait))
        return jsonify(openai_errors.body_for(error)), error.status, headers
    body = error.to_dict()
    snapshot = getattr(g, "user_snapshot", None)
    if snapshot is not None:
        # The fresh wallet helps a client after e.g. INSUFFICIENT_TOKENS; but the error may be
        # the database failing, and the answer must not fail with it.
        try:
            body["user"] = snapshot()
        except Exception:
            log.warning("could not attach the user snapshot to an error", exc_info=True)
    return jsonify(body), error.status, headers or {}


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(AppError)
    def handle_app_error(error: AppError):
        return error_response(error)

    @app.errorhandler(RateLimitExceeded)
    def handle_rate_limit(error: RateLimitExceeded):
        from web.rate_headers import reset_seconds

        retry_after = reset_seconds() or 60
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
        message = None if error.code in (404, 405, 413, 415) else error.description
        if error.code == 404 and openai_errors.applies():
            message = _V1_NOT_FOUND.format(method=request.method, path=request.path)
        # A 405 says which methods the path takes (RFC 9110); Werkzeug knows them.
        allow = getattr(error, "valid_methods", None) if error.code == 405 else None
        return error_response(cls(message), {"Allow": ", ".join(allow)} if allow else None)

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        if isinstance(error, _DEPENDENCY_DOWN):
            log.error("a dependency is down: %s: %s", type(error).__name__, error)
            return error_response(ServiceUnavailable())
        log.exception("unhandled error")
        return error_response(AppError())
