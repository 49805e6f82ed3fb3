"""The one error vocabulary.

Every domain error carries `code`, `status`, `message` and `details`. The web tier turns any of
them into `{"status":"error","message","code","details"}`; the websocket turns them into `error`
frames. Domain packages subclass these where they need a richer constructor.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    status: int = 500
    code: str = "INTERNAL_ERROR"
    message: str = "Something went wrong on our side. Please try again."

    def __init__(self, message: str | None = None, details: dict[str, Any] | None = None):
        self.message = message or type(self).message
        self.details = details or {}
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": "error",
            "message": self.message,
            "code": self.code,
            "details": self.details,
        }


class ValidationError(AppError):
    status, code, message = 400, "VALIDATION_ERROR", "The request is not valid."


class UnsupportedParameter(ValidationError):
    """A request asks for what the model does not take (tools, a response format, images):
    refused before anything is held, never passed on or ignored. `details.field` names it."""

    code, message = "UNSUPPORTED_PARAMETER", "This model does not take that parameter."


class ContentBlocked(AppError):
    status, code, message = 400, "CONTENT_BLOCKED", "The message contains blocked content."


class Unauthorized(AppError):
    status, code, message = 401, "UNAUTHORIZED", "Please log in again."


class InsufficientTokens(AppError):
    status, code = 402, "INSUFFICIENT_TOKENS"

    def __init__(self, required: int, available: int, message: str | None = None):
        super().__init__(
            message
            or f"This request needs up to {required} tokens but only {available} are available.",
            {
                "required": int(required),
                "available": int(available),
                "suggestion": "Buy more tokens or lower maxTokens, then try again.",
            },
        )
        self.required = int(required)
        self.available = int(available)


class Paywall(AppError):
    status, code = 403, "PAYWALL"

    def __init__(self, required_plan: str = "pro", message: str | None = None):
        super().__init__(
            message or f"This model needs the {required_plan} plan. Upgrade to use it.",
            {"requiredPlan": required_plan},
        )


class Forbidden(AppError):
    status, code, message = 403, "FORBIDDEN", "You are not allowed to do that."


class NotFound(AppError):
    status, code, message = 404, "NOT_FOUND", "Not found."


class MethodNotAllowed(AppError):
    status, code, message = 405, "METHOD_NOT_ALLOWED", "Method not allowed."


class Conflict(AppError):
    status, code, message = 409, "CONFLICT", "That conflicts with existing data."


class PayloadTooLarge(AppError):
    status, code, message = 413, "PAYLOAD_TOO_LARGE", "The request is too large."


class UnsupportedMediaType(AppError):
    status, code, message = (
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        "The body must be JSON (Content-Type: application/json).",
    )


class DailyLimit(AppError):
    status, code, message = 429, "DAILY_LIMIT", "You reached your plan's requests for today."


class RateLimited(AppError):
    status, code, message = 429, "RATE_LIMITED", "Too many requests. Slow down and retry."


class ProviderError(AppError):
    status, code, message = 502, "PROVIDER_ERROR", "The AI provider failed. Try another model."


class ProviderUnavailable(AppError):
    status, code, message = (
        503,
        "PROVIDER_UNAVAILABLE",
        "The AI provider is unavailable right now. Try again shortly or pick another model.",
    )


class ServiceUnavailable(AppError):
    status, code, message = 503, "SERVICE_UNAVAILABLE", "The service is unavailable. Try again."
