"""The fallback models of an API request: who answers when the chosen model's provider fails.

Two sources, in this order after the chosen model:

1. the request's own list (`models`, OpenRouter's field): each is checked as the chosen model
   is — it exists, is available, the plan and the key allow it, it takes what the request needs
   — and a failed check is the request's error, naming `models.<i>`;
2. with `same_model_fallback`, the same weights through other providers (the catalog's
   `same_model`): the ones that pass those checks, silently skipping the others (the request
   did not name them).

`common.sending.planning` then keeps those the conversation fits and sizes the one hold for the
dearest; `common.engine.provider_call` tries them in order on a failure before the first token.
"""

from __future__ import annotations

from common.apikeys import service as keys
from common.apikeys.errors import ModelNotFound
from common.catalog import cache as catalog_cache
from common.catalog import service as catalog
from common.errors import AppError, NotFound, ProviderUnavailable, ValidationError
from common.payments.subscriptions import check_paywall
from common.sending.command import SendCommand
from common.sending.validation import check_needs

# The same model through other providers: at most this many. The request's own list is bounded
# by its schema (`web.openai.schemas.MAX_FALLBACK_MODELS`).
MAX_FALLBACKS = 4


def fallback_models(cmd: SendCommand, primary) -> tuple[list, list]:
    """(named, automatic) fallback models for `primary`, checked (see the module docstring)."""
    named, seen = [], {primary.modelId}
    for index, model_id in enumerate(cmd.fallbacks):
        if model_id in seen:
            continue
        seen.add(model_id)
        named.append(_named(cmd, model_id, f"models.{index}"))
    automatic = []
    if cmd.same_model_fallback:
        for model in catalog.same_model(primary):
            if model.modelId not in seen and _usable(cmd, model):
                seen.add(model.modelId)
                automatic.append(model)
    return named, automatic[:MAX_FALLBACKS]


def _named(cmd: SendCommand, model_id: str, param: str):
    try:
        model = catalog_cache.model(model_id)
    except (NotFound, ValidationError):
        raise ModelNotFound(model_id, param) from None
    if not getattr(model, "isAvailable", True) or not catalog.sellable(model):
        raise ProviderUnavailable(
            f"{model_id} is unavailable right now. Leave it out of `models`.",
            {"field": param, "modelId": model_id},
        )
    _check(cmd, model, param)
    return model


def _check(cmd: SendCommand, model, param: str | None) -> None:
    check_paywall(cmd.user, [model])
    if cmd.api_key is not None:
        keys.check_model(cmd.api_key, model.modelId)
    check_needs(model, cmd.needs, param)


def _usable(cmd: SendCommand, model) -> bool:
    try:
        _check(cmd, model, None)
    except AppError:
        return False
    return True
