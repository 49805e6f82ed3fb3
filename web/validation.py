"""Request bodies and query strings validated by pydantic models.

Models use strict types, so `{"email": {"$ne": null}}` fails as "not a string" and never reaches
a query. Any failure is a 400 VALIDATION_ERROR that names the fields. JSON from clients (bodies
and websocket frames) is parsed by `loads`, which refuses nesting deeper than `MAX_JSON_DEPTH`.
"""

from __future__ import annotations

import functools
import json
import re
import typing
from datetime import date
from typing import Annotated, Any, TypeVar

import pydantic
from flask import request
from flask.json.provider import DefaultJSONProvider

from common.errors import UnsupportedMediaType, ValidationError
from config import get_settings

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
        value = json.loads(data, parse_float=_number)
    except RecursionError:
        raise too_deep from None
    except ValueError:
        raise ValidationError(f"{what} must be valid JSON.") from None
    if _deeper_than(value, MAX_JSON_DEPTH):
        raise too_deep
    return value


def _number(text: str) -> int | float:
    """`2.0` is the integer 2, as in JSON Schema: a strict integer field takes it, and a float
    field takes any integer."""
    value = float(text)
    return int(value) if value.is_integer() else value


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


def _iso_day(value: Any) -> Any:
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be a day as YYYY-MM-DD")
    return value


# A UTC day in a query string: only `YYYY-MM-DD` (pydantic alone would also read `0` as 1970).
Day = Annotated[date, pydantic.BeforeValidator(_iso_day)]


def setting_bound(setting: str, keyword: str = "maximum", **kwargs: Any) -> Any:
    """A `Field` whose documented bound (`maximum`, `maxLength`) is a setting, read when the
    document is built; the rule itself is checked where it is owned (e.g. `common.sending.
    validation`), with the same setting."""

    def bound(schema: dict[str, Any]) -> None:
        schema[keyword] = getattr(get_settings(), setting)

    return pydantic.Field(json_schema_extra=bound, **kwargs)


class Body(pydantic.BaseModel):
    """Base for request bodies: strict types, unknown fields ignored, strings stripped."""

    model_config = pydantic.ConfigDict(strict=True, str_strip_whitespace=True, extra="ignore")


class Query(pydantic.BaseModel):
    """Base for query strings: values arrive as text, so they are converted (not strict)."""

    model_config = pydantic.ConfigDict(extra="ignore", str_strip_whitespace=True)


def _errors(
    model: type[pydantic.BaseModel], exc: pydantic.ValidationError, data: Any
) -> list[dict]:
    """Each failure as `{field, message}`: `field` the JSON path in dotted form
    (`messages.2.role`), without pydantic's names for the members of a union; one per field."""
    names = _field_names(model)
    out: dict[str, list[str]] = {}
    for err in exc.errors(include_url=False, include_input=False):
        path = _path(err["loc"], data, names)
        tag = _tag_field(err)
        if tag is not None:
            path.append(tag)  # a union chosen by a field (`role`): the error is that field's
        messages = out.setdefault(".".join(path) or "body", [])
        if _message(err) not in messages:
            messages.append(_message(err))  # a union's members each say what they take
    return [{"field": f, "message": "; or ".join(m)} for f, m in out.items()]


def _path(loc: tuple, data: Any, names: frozenset[str]) -> list[str]:
    """The JSON path of an error's `loc`, walked through the input: indexes and the keys it
    has, and a missing field's name at the end. Other parts of `loc` are pydantic's names for
    a union's members (`constrained-str`, a discriminator's tag such as `user`), also when a
    tag is one of the object's keys (`json_schema`): the rest of `loc` then goes on in the same
    object, not in that key's value."""
    path: list[str] = []
    node = data
    for i, part in enumerate(loc):
        after = loc[i + 1] if i + 1 < len(loc) else None
        if isinstance(part, int):
            path.append(str(part))
            node = node[part] if _has(node, part) else None
        elif _has(node, part):
            if after is not None and not _has(node[part], after) and _has(node, after):
                continue  # a tag that is also a key
            path.append(part)
            node = node[part]
        elif after is None and part in names:
            path.append(part)  # a field that is missing
    return path


def _has(node: Any, part: Any) -> bool:
    if isinstance(part, int) and not isinstance(part, bool):
        return isinstance(node, list) and 0 <= part < len(node)
    return isinstance(node, dict) and part in node


_TAG_ERRORS = ("union_tag_invalid", "union_tag_not_found")


def _tag_field(err: dict) -> str | None:
    """The field that chooses the member of a discriminated union, when that failed."""
    if err["type"] not in _TAG_ERRORS:
        return None
    found = re.fullmatch(r"'(\w+)'", (err.get("ctx") or {}).get("discriminator", ""))
    return found.group(1) if found else None


def _message(err: dict) -> str:
    message = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if err["type"] == "missing" or (err["type"] == "union_tag_not_found" and _tag_field(err)):
        return "is required"
    if err["type"] == "model_type":  # pydantic names the model class
        return "Input should be an object"
    if err["type"] == "none_required":  # pydantic writes JSON's null as Python's None
        return "Input should be null"
    if err["type"] == "union_tag_invalid" and _tag_field(err):
        *rest, last = err["ctx"]["expected_tags"].split(", ")
        return "Input should be " + (f"{', '.join(rest)} or {last}" if rest else last)
    return message


@functools.cache
def _field_names(model: type[pydantic.BaseModel]) -> frozenset[str]:
    """The names (aliases) of the fields of `model` and of every model inside it."""
    names: set[str] = set()
    seen: set[type] = set()
    todo: list[Any] = [model]
    while todo:
        kind = todo.pop()
        if isinstance(kind, type) and issubclass(kind, pydantic.BaseModel):
            if kind in seen:
                continue
            seen.add(kind)
            for name, info in kind.model_fields.items():
                names.add(info.alias or name)
                todo.append(info.annotation)
        else:
            todo.extend(typing.get_args(kind))
    return frozenset(names)


def validate(model: type[M], data: object) -> M:
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        errors = _errors(model, exc, data)
        first = errors[0]
        details: dict[str, Any] = {"errors": errors}
        if first["field"] != "body":
            details["field"] = first["field"]  # the one `/v1` names as `param`
        raise ValidationError(f"{first['field']}: {first['message']}", details) from None


def parse_body(model: type[M]) -> M:
    """The request's JSON body validated by `model`: 400 when it is missing or invalid, 415 when
    it is sent as another media type (checked first: Werkzeug's own 415 is outside our
    vocabulary)."""
    if not request.is_json:
        if request.content_length or request.headers.get("Transfer-Encoding"):
            raise UnsupportedMediaType()
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
