"""A send's own rules on its input: the text, the models, the options.

The request schemas (`web/chat/schemas.py`, `web/openai/schemas.py`) check shapes and types;
these rules need the settings and the catalog, and hold for every caller (HTTP, websocket,
`/v1`), so the error codes are the same whichever way a send came in.
"""

from __future__ import annotations

from common.catalog import cache as catalog_cache
from common.catalog import service as catalog
from common.errors import (
    PayloadTooLarge,
    ProviderUnavailable,
    UnsupportedParameter,
    ValidationError,
)
from common.sending.command import Needs, SendCommand
from config import get_settings

DEFAULT_MAX_TOKENS = 1024
MAX_MODELS = 5


def validate(cmd: SendCommand) -> tuple[str, list, int]:
    """The message text, the catalog models and the completion's max tokens, or the error."""
    settings = get_settings()
    text = (cmd.message or "").strip()
    if not text:
        raise ValidationError("message: must not be empty", {"field": "message"})
    if len(text) > settings.max_message_chars:
        raise PayloadTooLarge(
            f"The message is longer than {settings.max_message_chars} characters.",
            {"field": "message", "maxChars": settings.max_message_chars},
        )
    ids = list(dict.fromkeys(m.strip() for m in cmd.models if isinstance(m, str) and m.strip()))
    if not ids:
        raise ValidationError("modelId: pick at least one model", {"field": "modelId"})
    if len(ids) > MAX_MODELS:
        raise ValidationError(f"models: at most {MAX_MODELS} at once", {"field": "models"})
    opts = cmd.options
    max_tokens = opts.max_tokens if opts.max_tokens is not None else None
    limit = settings.max_tokens_per_request
    if max_tokens is not None and not 1 <= max_tokens <= limit:
        raise ValidationError(
            f"options.maxTokens: must be between 1 and {limit}",
            {"field": "options.maxTokens", "max": limit},
        )
    if opts.temperature is not None and not 0 <= opts.temperature <= 2:
        raise ValidationError("options.temperature: must be between 0 and 2")
    if opts.top_p is not None and not 0 < opts.top_p <= 1:
        raise ValidationError("options.topP: must be above 0 and at most 1")
    models = [_model(model_id) for model_id in ids]
    for model in models:
        check_needs(model, cmd.needs)
    return text, models, max_tokens or min(DEFAULT_MAX_TOKENS, limit)


def check_needs(model, needs: Needs, param: str | None = None) -> None:
    """`UnsupportedParameter` naming the param (or `param`, e.g. `models.1`) when the model's
    catalog entry does not list what the request needs."""
    if needs == Needs():  # plain text: every model takes it
        return
    problem = needs.problem(catalog.capabilities_of(model))
    if problem is not None:
        name, what = problem
        raise UnsupportedParameter(
            f"{model.modelId} does not take {what} (see its `capabilities` in GET /v1/models "
            "or /api/models).",
            {"field": param or name, "modelId": model.modelId},
        )


def _model(model_id: str):
    model = catalog_cache.model(model_id)
    if not getattr(model, "isAvailable", True) or not catalog.sellable(model):
        raise ProviderUnavailable(
            f"{model_id} is unavailable right now. Pick another model.", {"modelId": model_id}
        )
    return model
