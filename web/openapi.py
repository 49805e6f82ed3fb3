"""The OpenAPI 3.1 document, built from the routes and the pydantic models they validate with.

A route says what it takes and answers with `@operation(...)` (or, for a route defined elsewhere,
`describe("endpoint", ...)`): the same request models `parse_body`/`parse_query` use, and
response models for `data`. `document(app)` walks the app's URL map and turns each described
rule into a path item; the schemas come from pydantic's `models_json_schema`, so the document
cannot drift from the validation. `/api/openapi.json` serves it, `/api/docs` renders it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pydantic
from flask import Flask
from pydantic.json_schema import models_json_schema

BEARER = "bearerAuth"  # a login token (JWT) in `Authorization: Bearer ...`
API_KEY = "apiKeyAuth"  # a personal API key (`ap-...`) in `Authorization: Bearer ...`


@dataclass
class Operation:
    summary: str
    tags: tuple[str, ...] = ()
    body: type[pydantic.BaseModel] | None = None
    body_required: bool = True  # False: the body may be left out altogether
    query: type[pydantic.BaseModel] | None = None
    # status -> the model of the answer's `data` (None: no fixed shape)
    responses: dict[int, type[pydantic.BaseModel] | None] = field(default_factory=dict)
    auth: str | None = BEARER
    envelope: bool = True  # answers wrapped in {"status": "success", "data": ...}
    errors: tuple[int, ...] = ()
    description: str = ""
    stream: bool = False  # also answers `text/event-stream` (the /v1 streaming completion)
    error_shape: str = "ErrorBody"  # the component schema of error answers


_described: dict[str, Operation] = {}


def operation(summary: str, **kwargs: Any) -> Callable:
    """Describe the decorated view for the document (no effect on how it runs)."""

    def mark(fn: Callable) -> Callable:
        fn.__openapi__ = Operation(summary, **kwargs)
        return fn

    return mark


def describe(endpoint: str, summary: str, **kwargs: Any) -> None:
    """Describe a view by its endpoint name (for routes whose module we do not decorate)."""
    _described[endpoint] = Operation(summary, **kwargs)


def operation_for(app: Flask, endpoint: str) -> Operation | None:
    view = app.view_functions.get(endpoint)
    return getattr(view, "__openapi__", None) or _described.get(endpoint)


# -- the shapes every route shares -------------------------------------------------------------


class ErrorBody(pydantic.BaseModel):
    """Every error of the `/api` routes."""

    status: str = pydantic.Field(json_schema_extra={"const": "error"})
    message: str
    code: str
    details: dict[str, Any]
    user: dict[str, Any] | None = None


class OpenAIErrorDetail(pydantic.BaseModel):
    message: str
    type: str
    code: str | None
    param: str | None = None


class OpenAIError(pydantic.BaseModel):
    """Every error of the `/v1` routes, in OpenAI's shape."""

    error: OpenAIErrorDetail


_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    400: "Bad request (VALIDATION_ERROR)",
    401: "Missing, bad, expired or revoked credentials",
    402: "Too few tokens (INSUFFICIENT_TOKENS)",
    403: "Not allowed (PAYWALL, FORBIDDEN, MODEL_NOT_ALLOWED)",
    404: "Not found",
    409: "Conflict",
    413: "Payload too large",
    429: "A limit was reached; see Retry-After",
    502: "The AI provider failed",
    503: "A provider or our own dependency is unavailable",
}


def document(app: Flask) -> dict[str, Any]:
    ops: list[tuple[str, str, Operation, dict[str, dict]]] = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        op = operation_for(app, rule.endpoint)
        if op is None:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            ops.append((_path(rule.rule), method.lower(), op, _path_schemas(rule.rule)))
    schemas = _schemas([op for _, _, op, _ in ops])
    paths: dict[str, dict] = {}
    for path, method, op, params in ops:
        paths.setdefault(path, {})[method] = _operation(op, params, f"{method}{path}")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "AI Pasta API",
            "version": "1.0.0",
            "description": "The REST API (`/api`), the OpenAI-compatible API (`/v1`) and the "
            "health check. The websocket protocol (`/ws`) is described in docs/websocket.md.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                BEARER: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "The token from /api/auth/login or /api/auth/register.",
                },
                API_KEY: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A personal API key (`ap-...`) from /api/user/api-keys.",
                },
            },
        },
    }


_VARIABLE = re.compile(r"<(?:([^:<>]+):)?([^<>:]+)>")


def _path(rule: str) -> str:
    return _VARIABLE.sub(lambda m: "{" + m.group(2) + "}", rule)


def _path_schemas(rule: str) -> dict[str, dict]:
    """Each path variable's schema: `any(a, b)` is an enum, others are non-empty strings
    (a `path` variable may hold slashes, as model ids do)."""
    schemas = {}
    for m in _VARIABLE.finditer(rule):
        converter, name = m.group(1) or "", m.group(2)
        if converter.startswith("any("):
            choices = [c.strip() for c in converter[4:-1].split(",")]
            schemas[name] = {"type": "string", "enum": choices}
        else:
            schemas[name] = {"type": "string", "minLength": 1}
    return schemas


def _schemas(ops: list[Operation]) -> dict[str, Any]:
    models: dict[tuple[type, str], None] = {(ErrorBody, "serialization"): None}
    models[(OpenAIError, "serialization")] = None
    for op in ops:
        if op.body is not None:
            models[(op.body, "validation")] = None
        for model in op.responses.values():
            if model is not None:
                models[(model, "serialization")] = None
    _, top = models_json_schema(list(models), ref_template="#/components/schemas/{model}")
    return top.get("$defs", {})


def _ref(model: type) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation(op: Operation, params: dict[str, dict], op_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "summary": op.summary,
        "operationId": re.sub(r"[^A-Za-z0-9]+", "_", op_id).strip("_"),
        "tags": list(op.tags),
        "responses": _responses(op),
    }
    if op.description:
        out["description"] = op.description
    parameters = [
        {"name": p, "in": "path", "required": True, "schema": params[p]} for p in sorted(params)
    ]
    if op.query is not None:
        parameters += _query_parameters(op.query)
    if parameters:
        out["parameters"] = parameters
    if op.body is not None:
        out["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": _ref(op.body)}},
        }
    out["security"] = [{op.auth: []}] if op.auth else []
    return out


def _query_parameters(model: type[pydantic.BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _responses(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, model in sorted(op.responses.items()):
        data = _ref(model) if model is not None else {"type": "object"}
        if op.envelope:
            data = {
                "type": "object",
                "required": ["status", "data"],
                "properties": {"status": {"const": "success"}, "data": data},
            }
        content = {"application/json": {"schema": data}}
        if op.stream:
            content["text/event-stream"] = {
                "schema": {"type": "string"},
                "description": "Server-sent events: `data: {chat.completion.chunk}` lines, "
                "then `data: [DONE]`.",
            }
        out[str(status)] = {"description": _STATUS_TEXT.get(status, "OK"), "content": content}
    error = {"$ref": f"#/components/schemas/{op.error_shape}"}
    for status in op.errors:
        out[str(status)] = {
            "description": _STATUS_TEXT.get(status, "Error"),
            "content": {"application/json": {"schema": error}},
        }
    out["default"] = {
        "description": "Any other error, in the same shape",
        "content": {"application/json": {"schema": error}},
    }
    return out
