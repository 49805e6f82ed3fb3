"""Request bodies and query strings validated by pydantic models.

Models use strict types, so `{"email": {"$ne": null}}` fails as "not a string" and never reaches
a query. Any failure is a 400 VALIDATION_ERROR that names the fields. JSON from clients (bodies
and websocket frames) is parsed by `loads`, which refuses nesting deeper than `MAX_JSON_DEPTH`.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import pydantic
from flask import request
from flask.json.provider import DefaultJSONProvider

from common.errors import ValidationError

M = TypeVar("M", bound=pydantic.BaseModel)

# No request or frame of ours nests more than a few levels; deeper input would exhaust the
# recursion limit of the parser (a RecursionError, once a 500) or of whatever walks it next.
MAX_JSON_DEPTH = 32


def loads(data: str | bytes, what: str = "The body") -> Any:
    """`json.loads` for untrusted input: `ValidationError` for anything but valid JSON nested at
    most `MAX_JSON_DEPTH` deep."""
    too_deep = ValidationError(
        f"{what} is nested too deeply (at most {MAX_JSON_DEPTH} levels).",
        {"maxDepth": MAX_JSON_DEPTH},
    )
    try:
        value = json.loads(data)
    except RecursionError:
        raise too_deep from None
    except ValueError:
        raise ValidationError(f"{what} must be valid JSON.") from None
    if _deeper_than(value, MAX_JSON_DEPTH):
        raise too_deep
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether containers nest more than `limit` levels (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list):
            continue
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children)
    return False


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with `loads` bounded, so `request.get_json()` anywhere answers
    400 (Flask turns the ValueError into a BadRequest) instead of failing on deep nesting."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return loads(s)
        except ValidationError as exc:
            raise ValueError(exc.message) from None


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
    data = loads(request.get_data(cache=True))
    if not isinstance(data, dict):
        raise ValidationError("The body must be a JSON object.")
    return validate(model, data)


def optional_body(model: type[M]) -> M:
    """Parse a body that may be absent altogether (actions with only optional fields)."""
    if not request.get_data():
        return validate(model, {})
    return parse_body(model)


def parse_query(model: type[M]) -> M:
    return validate(model, request.args.to_dict())
