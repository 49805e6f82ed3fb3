"""Request bodies and query strings validated by pydantic models.

Models use strict types, so `{"email": {"$ne": null}}` fails as "not a string" and never reaches
a query. Any failure is a 400 VALIDATION_ERROR that names the fields.
"""

from __future__ import annotations

from typing import TypeVar

import pydantic
from flask import request
from werkzeug.exceptions import BadRequest

from common.errors import ValidationError

M = TypeVar("M", bound=pydantic.BaseModel)


class Body(pydantic.BaseModel):
    """Base for request bodies: strict types, unknown fields ignored, strings stripped."""

    model_config = pydantic.ConfigDict(strict=True, str_strip_whitespace=True, extra="ignore")


class Query(pydantic.BaseModel):
    """Base for query strings: values arrive as text, so they are converted (not strict)."""

    model_config = pydantic.ConfigDict(extra="ignore", str_strip_whitespace=True)


def _errors(exc: pydantic.ValidationError) -> list[dict]:
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"]}
        for err in exc.errors(include_url=False)
    ]


def validate(model: type[M], data: object) -> M:
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        errors = _errors(exc)
        first = errors[0]
        raise ValidationError(f"{first['field']}: {first['message']}", {"errors": errors}) from None


def parse_body(model: type[M]) -> M:
    # Checked first: Werkzeug would answer a form or text body with a 415 outside our vocabulary.
    if not request.is_json:
        raise ValidationError("The body must be a JSON object (Content-Type: application/json).")
    try:
        data = request.get_json(force=False, silent=False)
    except BadRequest:
        raise ValidationError("The body must be valid JSON.") from None
    if not isinstance(data, dict):
        raise ValidationError("The body must be a JSON object.")
    return validate(model, data)


def parse_query(model: type[M]) -> M:
    return validate(model, request.args.to_dict())
