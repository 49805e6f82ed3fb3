"""The model catalog: sync from providers, a shared Redis copy, lookups for the chat flow.

Where the list comes from, in order:
1. Redis (`aipasta:catalog:models`), shared by every web process, for `MODEL_CACHE_SECONDS`.
2. On a miss, one process (a Redis lock) syncs every provider into MongoDB and stores the
   rebuilt list; the others wait briefly for it, then read MongoDB directly.
3. A provider that cannot be read keeps its last good documents (they are only marked
   unavailable when the provider answers without them); the rebuilt list is then cached for a
   short time only, so the provider is tried again soon.
4. With nothing stored at all, the built-in `FALLBACK_MODELS` (free OpenRouter models) are
   stored and served.

The list is kept in the default order: the guide's preferred free models in its order, other
free models by name, then paid models by prompt price.

Hygiene: a model whose listed price is negative, not a number, infinite or absurd
(`pricing.price_problem`) is not offered: it is not stored, and a stored copy becomes
unavailable. "Free" means both prices are zero. Each model in the list carries its `rates`
(wallet tokens per 1K prompt / completion tokens) and `typicalCost` (a typical answer's cost).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pymongo import UpdateOne

from common.catalog.models import AIModel, catalog_id
from common.errors import NotFound, ValidationError
from common.providers.base import ALL_FAILURES, ModelInfo
from common.providers.registry import PROVIDER_NAMES, provider_for
from common.redis_client import get_redis
from common.stored import iso, utcnow
from common.wallet import pricing
from config import get_settings

# The built-in models, shown when nothing is stored and no provider answers, were listed then.
FALLBACK_ADDED_AT = datetime(2025, 1, 1, tzinfo=UTC)

log = logging.getLogger(__name__)

PREFERRED_MODELS = (
    "meta-llama/llama-3.1-405b-instruct:free",
    "deepseek/deepseek-r1:free",
    "agentica/deepcoder:free",
    "arliai/qwq-32b-preview:free",
)
RANK_OTHER_FREE, RANK_PAID = 10, 20
SORTS = ("default", "name", "price", "context")

CACHE_KEY = "aipasta:catalog:models"
LOCK_KEY = "aipasta:catalog:refresh-lock"
STALE_SECONDS = 60  # how long a list built during an outage is cached
WAIT_FOR_PEER_SECONDS = 5.0  # how long a process waits for another one's refresh


def _fallback(model_id: str, name: str, context: int, caps: tuple[str, ...]) -> ModelInfo:
    return ModelInfo(
        model_id=model_id,
        name=name,
        provider="openrouter",
        description=f"{name}, free on OpenRouter (built-in fallback entry).",
        context_window=context,
        capabilities=caps,
    )


FALLBACK_MODELS: tuple[ModelInfo, ...] = (
    _fallback(PREFERRED_MODELS[0], "Meta: Llama 3.1 405B Instruct (free)", 131072, ("text",)),
    _fallback(PREFERRED_MODELS[1], "DeepSeek: R1 (free)", 163840, ("text", "reasoning")),
    _fallback(PREFERRED_MODELS[2], "Agentica: Deepcoder 14B (free)", 96000, ("text", "code")),
    _fallback(PREFERRED_MODELS[3], "ArliAI: QwQ 32B (free)", 32768, ("text", "reasoning")),
    _fallback("google/gemma-2-9b-it:free", "Google: Gemma 2 9B (free)", 8192, ("text",)),
    _fallback("mistralai/mistral-7b-instruct:free", "Mistral 7B Instruct (free)", 32768, ("text",)),
)


# -- views and ordering -----------------------------------------------------------------------


def is_free(info: ModelInfo) -> bool:
    return pricing.is_free(info.prompt_price, info.completion_price)


def offered(infos: list[ModelInfo]) -> list[ModelInfo]:
    """The models whose prices can be sold; the others are logged and left out."""
    kept = []
    for info in infos:
        problem = pricing.price_problem(info.prompt_price, info.completion_price)
        if problem:
            log.warning("catalog: not offering %s/%s: %s", info.provider, info.model_id, problem)
        else:
            kept.append(info)
    return kept


def rates_of(model: AIModel | dict) -> pricing.Rates:
    """The model's rates under the current settings (from its per-token USD prices)."""
    d = model if isinstance(model, dict) else model.to_mongo().to_dict()
    prices = d.get("pricing") or {}
    tariff = pricing.Tariff.from_settings(get_settings())
    return pricing.rates_for(prices.get("prompt", 0.0), prices.get("completion", 0.0), tariff)


def sellable(model: AIModel | dict) -> bool:
    """Can this stored model be sold? (A copy stored before the hygiene rule may not be.)"""
    d = model if isinstance(model, dict) else model.to_mongo().to_dict()
    prices = d.get("pricing") or {}
    return pricing.price_problem(prices.get("prompt", 0.0), prices.get("completion", 0.0)) is None


def capabilities_of(model: AIModel | dict) -> dict[str, bool]:
    """DESIGN.md's `capabilities {tools, jsonSchema, images}` (plus `jsonObject`, JSON mode),
    from what the provider lists for the model. What it does not list, the model does not take:
    a request for it is refused, never passed on or ignored."""
    if isinstance(model, dict):
        features, modalities = model.get("features"), model.get("inputModalities")
    else:  # read the fields as they are: this runs on every send
        features, modalities = model.features, model.inputModalities
    features = set(features or [])
    return {
        "tools": "tools" in features,
        "jsonObject": "json_object" in features,
        "jsonSchema": "json_schema" in features,
        "images": "image" in (modalities or ["text"]),
    }


def sort_rank(model_id: str, free: bool) -> int:
    if model_id in PREFERRED_MODELS:
        return PREFERRED_MODELS.index(model_id)
    return RANK_OTHER_FREE if free else RANK_PAID


def _per_1k(per_token: float) -> float:
    return round(per_token * 1000, 10)


def model_view(doc: AIModel | dict) -> dict:
    """The model as DESIGN.md shows it to clients (from a document or its stored fields)."""
    d = doc if isinstance(doc, dict) else doc.to_mongo().to_dict()
    prices = d.get("pricing") or {}
    rates = rates_of(d) if sellable(d) else None
    return {
        "modelId": d["modelId"],
        "name": d.get("name") or d["modelId"],
        "provider": d.get("provider", "openrouter"),
        "description": d.get("description") or "",
        "pricing": {"input": prices.get("input", 0.0), "output": prices.get("output", 0.0)},
        "rates": rates.as_dict() if rates else None,
        "typicalCost": pricing.typical_cost(rates) if rates else None,
        "contextWindow": d.get("contextWindow", 4096),
        "capabilities": capabilities_of(d),
        "inputModalities": list(d.get("inputModalities") or ["text"]),
        "tags": list(d.get("capabilities") or []),
        "isFree": bool(d.get("isFree", True)),
        "isAvailable": bool(d.get("isAvailable", True)) and rates is not None,
        # The Hugging Face repo of its weights when its provider names it: routes of one model
        # through several providers share it (the client groups them by it).
        "weights": d.get("hfId") or None,
        # When the model entered our catalog (`/v1/models` answers it as `created`).
        "addedAt": iso(d.get("createdAt") or FALLBACK_ADDED_AT),
    }


def _default_key(doc: AIModel) -> tuple:
    return (doc.sortRank, doc.pricing.prompt, doc.pricing.completion, doc.name.lower())


_SORT_KEYS = {
    "name": lambda m: (m["name"].lower(), m["modelId"]),
    "price": lambda m: (m["pricing"]["input"], m["pricing"]["output"], m["name"].lower()),
    "context": lambda m: -m["contextWindow"],  # largest first; stable, so ties keep default
}


# -- writing the catalog ----------------------------------------------------------------------


def _fields(info: ModelInfo, now: datetime) -> dict:
    """The stored fields for a provider's model, derived values included."""
    model_id = catalog_id(info.provider, info.model_id)
    free = is_free(info)
    return {
        "modelId": model_id,
        "providerModelId": info.model_id,
        "name": info.name or info.model_id,
        "provider": info.provider,
        "description": info.description or "",
        "pricing": {
            "input": _per_1k(info.prompt_price),
            "output": _per_1k(info.completion_price),
            "prompt": info.prompt_price,
            "completion": info.completion_price,
        },
        "contextWindow": int(info.context_window),
        "capabilities": list(info.capabilities),
        "inputModalities": list(info.input_modalities),
        "features": list(info.features),
        "hfId": info.hf_id.lower(),
        "isFree": free,
        "isAvailable": bool(info.is_available),
        "sortRank": sort_rank(model_id, free),
        "lastChecked": now,
        "updatedAt": now,
    }


def _upsert_op(info: ModelInfo, now: datetime) -> UpdateOne:
    fields = _fields(info, now)
    model_id = fields["modelId"]
    return UpdateOne(
        {"modelId": model_id}, {"$set": fields, "$setOnInsert": {"createdAt": now}}, upsert=True
    )


def upsert_models(models: list[ModelInfo]) -> int:
    """Insert or update these models by `modelId`; safe to repeat. Returns how many."""
    models = offered(models)
    if not models:
        return 0
    now = utcnow()
    AIModel._get_collection().bulk_write([_upsert_op(m, now) for m in models], ordered=False)
    return len(models)


def sync_provider(name: str) -> int:
    """Fetch `name`'s models and upsert them; ones it no longer lists become unavailable.

    Raises the provider's failure (the stored models stay as they were). Returns the count.
    """
    models = offered(provider_for(name).list_models())
    upsert_models(models)
    listed = [catalog_id(name, m.model_id) for m in models]
    AIModel.objects(provider=name, modelId__nin=listed, isAvailable=True).update(
        set__isAvailable=False, set__lastChecked=utcnow()
    )
    return len(models)


@dataclass
class RefreshResult:
    synced: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    used_fallback: bool = False
    models: list[dict] = field(default_factory=list)


def models_by_id(model_ids: list[str]) -> dict[str, AIModel]:
    """The stored models among `model_ids`, by id (a missing one is left out)."""
    return {d.modelId: d for d in AIModel.objects(modelId__in=list(model_ids))}


def same_model(model: AIModel) -> list[AIModel]:
    """The same weights through other providers (same Hugging Face repo), available, cheapest
    first: the automatic fallbacks of a `/v1` request (`common.sending.fallbacks`)."""
    if not model.hfId:
        return []
    others = AIModel.objects(hfId=model.hfId, isAvailable=True, modelId__ne=model.modelId)
    return sorted((m for m in others if sellable(m)), key=_default_key)


def refresh_catalog() -> RefreshResult:
    """Sync every provider, rebuild the list and store it in Redis for every process."""
    result = RefreshResult()
    for name in PROVIDER_NAMES:
        try:
            result.synced[name] = sync_provider(name)
        except (*ALL_FAILURES, ValueError, TypeError, KeyError) as exc:
            log.warning("catalog: could not read %s's models: %r", name, exc)
            result.failed[name] = getattr(exc, "reason", type(exc).__name__)
    result.models = _stored_list()
    if not result.models:
        upsert_models(list(FALLBACK_MODELS))
        result.used_fallback = True
        result.models = _stored_list()
    ttl = max(1, get_settings().model_cache_seconds)
    if result.failed:
        ttl = min(ttl, STALE_SECONDS)
    get_redis().set(CACHE_KEY, json.dumps(result.models), ex=ttl)
    return result


def invalidate_cache() -> None:
    get_redis().delete(CACHE_KEY)


# -- reading the catalog ----------------------------------------------------------------------


def _stored_list() -> list[dict]:
    docs = sorted(AIModel.objects(isAvailable=True), key=_default_key)
    return [model_view(d) for d in docs if sellable(d)]


def _lock_seconds() -> int:
    settings = get_settings()
    per_provider = settings.provider_connect_timeout + settings.provider_read_timeout
    return int(per_provider * len(PROVIDER_NAMES)) + 10


def _cached() -> list[dict] | None:
    raw = get_redis().get(CACHE_KEY)
    return json.loads(raw) if raw else None


def _wait_for_peer() -> list[dict] | None:
    deadline = time.monotonic() + WAIT_FOR_PEER_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.05)
        cached = _cached()
        if cached is not None:
            return cached
    return None


def _release(token: str) -> None:
    redis = get_redis()
    if redis.get(LOCK_KEY) == token:  # not ours any more if it expired and was retaken
        redis.delete(LOCK_KEY)


def catalog() -> list[dict]:
    """Every available model, in the default order (see the module docstring for sources)."""
    cached = _cached()
    if cached is not None:
        return cached
    token = uuid.uuid4().hex
    if get_redis().set(LOCK_KEY, token, nx=True, ex=_lock_seconds()):
        try:
            return refresh_catalog().models
        finally:
            _release(token)
    return _wait_for_peer() or _stored_list() or [_fallback_view(m) for m in FALLBACK_MODELS]


def _fallback_view(info: ModelInfo) -> dict:
    return model_view(_fields(info, utcnow()))


def _matches(model: dict, needle: str) -> bool:
    return any(needle in (model.get(k) or "").lower() for k in ("modelId", "name", "description"))


def list_models(
    provider: str | None = None,
    search: str | None = None,
    free: bool | None = None,
    sort: str = "default",
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict], int]:
    """One page of the catalog and the number of models matching the filters."""
    if sort not in SORTS:
        raise ValidationError(f"sort must be one of {', '.join(SORTS)}.")
    models = catalog()
    if provider:
        models = [m for m in models if m["provider"] == provider]
    if free is not None:
        models = [m for m in models if m["isFree"] is free]
    if search:
        needle = search.lower()
        models = [m for m in models if _matches(m, needle)]
    if sort != "default":
        models = sorted(models, key=_SORT_KEYS[sort])
    return models[offset : offset + limit], len(models)


def default_model() -> dict:
    """The smart default: the first preferred free model available, else the first free one."""
    models = catalog()
    by_id = {m["modelId"]: m for m in models}
    for model_id in PREFERRED_MODELS:
        if model_id in by_id:
            return by_id[model_id]
    free = [m for m in models if m["isFree"]]
    if free or models:
        return (free or models)[0]
    raise NotFound("No model is available right now.")


def _check_id(model_id: object) -> str:
    if not isinstance(model_id, str) or not model_id.strip() or len(model_id) > 300:
        raise ValidationError("modelId must be a model id such as 'deepseek/deepseek-r1:free'.")
    return model_id.strip()


def find_model(model_id: str) -> AIModel | None:
    """The stored model, filling an empty catalog first (a fresh deployment's first chat)."""
    doc = AIModel.objects(modelId=model_id).first()
    if doc is None and AIModel.objects.first() is None:
        catalog()
        doc = AIModel.objects(modelId=model_id).first()
    return doc


def get_model(model_id: str) -> AIModel:
    """The model to chat with; `NotFound` (404) when no such model exists (as on `/v1` and
    `GET /api/models/<id>`), `ValidationError` (400) for text that cannot be a model id.

    Unavailable models are returned too; callers check `isAvailable`.
    """
    model_id = _check_id(model_id)
    doc = find_model(model_id)
    if doc is None:
        raise NotFound(
            f"Unknown model '{model_id}'. Pick one from GET /api/models.", {"modelId": model_id}
        )
    return doc


def get_model_view(model_id: str) -> dict:
    """One model for `GET /api/models/<id>`; `NotFound` (404) when no such model exists."""
    for model in catalog():
        if model["modelId"] == model_id:
            return model
    doc = find_model(model_id)
    if doc is None:
        raise NotFound(f"Unknown model '{model_id}'.", {"modelId": model_id})
    return model_view(doc)
