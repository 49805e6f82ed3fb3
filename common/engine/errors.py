"""Chat-specific errors (same vocabulary as `common.errors`)."""

from __future__ import annotations

from common.errors import AppError, ServiceUnavailable


class StreamInterrupted(AppError):
    status, code = 503, "STREAM_INTERRUPTED"
    message = "The answer was interrupted on our side. You were not charged for it; please retry."


class MessageFailed(AppError):
    """A stored failure, replayed to a caller that waited for the answer (`"wait": true`)."""

    def __init__(self, error: dict):
        super().__init__(error.get("message"), error.get("details") or {})
        self.code = error.get("code") or "PROVIDER_ERROR"
        self.status = int(error.get("status") or 502)


class SettlementDeferred(ServiceUnavailable):
    """The database stayed down longer than the settlement's retries: the reaper finishes it."""

    message = "We could not record this answer yet; it will be settled shortly."


def error_record(exc: AppError, *, details: dict | None = None, reason: str | None = None) -> dict:
    """The `error` stored on a failed message (read back by `MessageFailed` and the final
    frame): the class's code, message and status, with the `details` and `reason` its kind of
    failure keeps (each only when given: the stored shapes predate this one builder)."""
    record: dict = {"code": exc.code, "message": exc.message}
    if details is not None:
        record["details"] = details
    if reason is not None:
        record["reason"] = reason
    record["status"] = exc.status
    return record
