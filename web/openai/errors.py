"""Errors of the `/v1` routes in OpenAI's shape: `{"error": {"message", "type", "code", "param"}}`.

The same `AppError` classes as everywhere (the one handler in `web.errors` calls `body_for`);
only the shape differs. `code` is our code in lower case (`insufficient_tokens`, `paywall`,
`key_cap_reached`, ...), `type` is OpenAI's category for the status, and every 429 carries
`Retry-After`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import request

from common.errors import AppError, DailyLimit

PREFIX = "/v1"

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
}


def applies() -> bool:
    """True while answering a `/v1` request (outside a request, never)."""
    try:
        path = request.path
    except RuntimeError:
        return False
    return path == PREFIX or path.startswith(PREFIX + "/")


def body_for(error: AppError) -> dict[str, Any]:
    details = error.details or {}
    param = details.get("field")
    return {
        "error": {
            "message": error.message,
            "type": _TYPES.get(error.status, "api_error" if error.status >= 500 else "error"),
            "code": error.code.lower(),
            "param": param if isinstance(param, str) else None,
        }
    }


def retry_after(error: AppError) -> int | None:
    """Seconds a client should wait before retrying a 429."""
    if error.status != 429:
        return None
    seconds = getattr(error, "retry_after", None) or (error.details or {}).get("retryAfter")
    if seconds:
        return int(seconds)
    if isinstance(error, DailyLimit):
        now = datetime.now(UTC)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        return max(1, int((midnight - now).total_seconds()) + 1)
    return 60
