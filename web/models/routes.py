"""`/api/models` routes: the catalog, the smart default, one model by id.

Model ids contain slashes and colons (`deepseek/deepseek-r1:free`), so the one-model route takes
a `path`; `/default` is a static rule and Werkzeug matches static rules before converters.
"""

from __future__ import annotations

from flask import Blueprint

from common.admin.analytics import SPEEDS_DAYS, model_speeds
from common.catalog import service as catalog
from web import api_models as out
from web.models.schemas import ModelListQuery, ModelSpeeds
from web.openapi import operation
from web.responses import ok
from web.security import login_required
from web.validation import parse_query

bp = Blueprint("models", __name__, url_prefix="/api/models")
TAGS = ("Models",)


@bp.get("")
@login_required
@operation("The model catalog", tags=TAGS, query=ModelListQuery, responses={200: out.ModelList})
def list_models():
    query = parse_query(ModelListQuery)
    models, total = catalog.list_models(
        provider=query.provider,
        search=query.search or None,
        free=query.free,
        sort=query.sort,
        limit=query.limit,
        offset=query.offset,
    )
    return ok({"models": models, "total": total, "limit": query.limit, "offset": query.offset})


@bp.get("/default")
@login_required
@operation(
    "The default model",
    tags=TAGS,
    responses={200: out.OneModel},
    errors=(404,),
    description="404 when the catalog has no model.",
)
def default_model():
    return ok({"model": catalog.default_model()})


@bp.get("/speeds")
@login_required
@operation(
    "How fast each model answered lately (everyone's answers, no user data)",
    tags=("Models",),
    responses={200: ModelSpeeds},
    errors=(401,),
    description=f"Per model id: the mean time to first token (ms) and tokens per second over "
    f"the last {SPEEDS_DAYS} days, and how many answers they come from. Models nobody used "
    "lately are left out. Cached for 5 minutes.",
)
def speeds():
    return ok({"speeds": model_speeds(), "days": SPEEDS_DAYS})


@bp.get("/<path:model_id>")
@login_required
@operation("One model by id (ids contain slashes)", tags=TAGS, responses={200: out.OneModel})
def get_model(model_id: str):
    return ok({"model": catalog.get_model_view(model_id)})
