"""API key errors, in the one vocabulary (`common.errors`)."""

from __future__ import annotations

from common.errors import AppError, Forbidden, NotFound, Unauthorized


class InvalidApiKey(Unauthorized):
    code = "INVALID_API_KEY"
    message = "Invalid API key. Create one at /api/user/api-keys and send it as a Bearer token."


class KeyCapReached(AppError):
    """A key's own daily or monthly token cap (429, with the seconds until it resets)."""

    status, code = 429, "KEY_CAP_REACHED"

    def __init__(self, message: str, details: dict, retry_after: int):
        super().__init__(message, {**details, "retryAfter": retry_after})
        self.retry_after = retry_after


class ModelNotAllowed(Forbidden):
    code = "MODEL_NOT_ALLOWED"


class ModelNotFound(NotFound):
    """No such model, or one the key may not see (`/v1` answers 404 as OpenAI does)."""

    code = "MODEL_NOT_FOUND"

    def __init__(self, model_id: str, field: str = "model"):
        super().__init__(f"The model '{model_id}' does not exist.", {"field": field})
