"""The OpenAPI 3.1 document, built from the routes and the pydantic models they validate with.

Every route says what it takes and answers with `@operation(...)` beside its view: the same
request models `parse_body`/`parse_query` use, response models for `data`, and the statuses only
the route knows (`errors`: 402, 404, 409, 502, ...). The statuses every route of a kind answers
are added here, from the same facts the server acts on, so they cannot be forgotten:

- a login token or API key (`auth`): 401; an admin's token (`ADMIN`): 401 and 403;
- a JSON body: 400 (invalid), 413 (over `MAX_BODY_BYTES`), 415 (not `application/json`);
- a query string: 400; a path variable: 404;
- rate limited (flask-limiter, unless the route is exempt): 429 with `Retry-After`;
- every route: 503 (MongoDB or Redis down). Never 500, and no `default` response.

A method a path does not take is 405 with `Allow` (docs/api.md); it is not an operation, so it is
not listed. `document(app)` walks the URL map; the schemas come from pydantic's
`models_json_schema`, so the document cannot drift from the validation. `/api/openapi.json`
serves it, `/api/docs` renders it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import pydantic
from flask import Flask
from pydantic.json_schema import models_json_schema

BEARER = "bearerAuth"  # a login token (JWT) in `Authorization: Bearer ...`
ADMIN = "admin"  # a login token of an admin (the bearerAuth scheme; 403 for anyone else)
API_KEY = "apiKeyAuth"  # a personal API key (`ap-...`) in `Authorization: Bearer ...`
WEBHOOK = "razorpaySignature"  # Razorpay's HMAC of the raw body in `X-Razorpay-Signature`


@dataclass(frozen=True)
class Operation:
    summary: str
    tags: tuple[str, ...] = ()
    body: type[pydantic.BaseModel] | None = None
    body_required: bool = True  # False: the body may be left out altogether
    query: type[pydantic.BaseModel] | None = None
    # request headers it reads: name -> {"schema": ..., "description": ...} (optional ones)
    headers: dict[str, dict[str, Any]] = field(default_factory=dict)
    # status -> the model of the answer's `data` (None: an object of no fixed shape)
    responses: dict[int, type[pydantic.BaseModel] | None] = field(default_factory=dict)
    auth: str | None = BEARER
    envelope: bool = True  # answers wrapped in {"status": "success", "data": ...}
    # The route's own error statuses, beyond those every route of its kind answers (above).
    errors: tuple[int, ...] = ()
    description: str = ""
    # The model of one streamed event's JSON (the /v1 completions with `stream: true`): the 200
    # is then also `text/event-stream`.
    stream: type[pydantic.BaseModel] | None = None
    error_shape: str = "ErrorBody"  # the component schema of error answers
    error_schemas: dict[int, type[pydantic.BaseModel]] = field(default_factory=dict)

    @property
    def openai(self) -> bool:
        return self.error_shape == "OpenAIError"

    def statuses(self, path_variables: bool, rate_limited: bool) -> list[int]:
        """Every error status this operation can answer."""
        found = set(self.errors) | {503}
        if self.auth in (BEARER, API_KEY, ADMIN, WEBHOOK):
            found.add(401)
        if self.auth == ADMIN:
            found.add(403)
        if self.body is not None:
            found |= {400, 413, 415}
        if self.query is not None or self.headers:
            found.add(400)
        if path_variables:
            found.add(404)
        if rate_limited:
            found.add(429)
        return sorted(found)


def operation(summary: str, **kwargs: Any) -> Callable:
    """Describe the decorated view for the document (no effect on how it runs)."""

    def mark(fn: Callable) -> Callable:
        fn.__openapi__ = Operation(summary, **kwargs)
        return fn

    return mark


def operation_for(app: Flask, endpoint: str) -> Operation | None:
    return getattr(app.view_functions.get(endpoint), "__openapi__", None)


# -- the shapes every route shares -------------------------------------------------------------


class ErrorBody(pydantic.BaseModel):
    """Every error of the `/api` routes."""

    status: Literal["error"]
    message: str = pydantic.Field(min_length=1)
    code: str = pydantic.Field(pattern=r"^[A-Z][A-Z_]*$", description="e.g. `VALIDATION_ERROR`")
    details: dict[str, Any] = pydantic.Field(
        description="For `VALIDATION_ERROR`: `errors: [{field, message}]`, `field` in dotted form "
        "(`options.maxTokens`, `models.1`)"
    )
    user: dict[str, Any] | None = pydantic.Field(
        default=None, description="The user snapshot, on errors of signed-in requests"
    )


class OpenAIErrorDetail(pydantic.BaseModel):
    message: str = pydantic.Field(min_length=1)
    type: Literal[
        "invalid_request_error",
        "authentication_error",
        "insufficient_quota",
        "permission_error",
        "rate_limit_error",
        "api_error",
    ]
    code: str | None = pydantic.Field(description="Ours in lower case: `validation_error`, ...")
    param: str | None = pydantic.Field(
        description="The request field at fault in dotted form (`messages.2.role`), or null"
    )


class OpenAIError(pydantic.BaseModel):
    """Every error of the `/v1` routes, in OpenAI's shape."""

    error: OpenAIErrorDetail


_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    400: "The request is not valid (`VALIDATION_ERROR`; `CONTENT_BLOCKED` for a blocked term)",
    401: "Missing, invalid, expired or revoked credentials",
    402: "Too few tokens (`INSUFFICIENT_TOKENS`)",
    403: "Not allowed (`FORBIDDEN`, `PAYWALL`, `MODEL_NOT_ALLOWED`)",
    404: "Not found (also another user's object)",
    409: "Conflict with existing data",
    413: "The body is larger than `MAX_BODY_BYTES`, or the message longer than allowed",
    415: "The body is not `application/json`",
    429: "A limit was reached; `Retry-After` says how many seconds to wait",
    502: "The AI provider failed",
    503: "A provider or one of our own dependencies (MongoDB, Redis) is unavailable",
}

_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def document(app: Flask) -> dict[str, Any]:
    ops: list[tuple[str, str, Operation, dict[str, dict], bool]] = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        op = operation_for(app, rule.endpoint)
        if op is None:
            continue
        limited = _rate_limited(app, rule.endpoint)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            ops.append((_path(rule.rule), method.lower(), op, _path_schemas(rule.rule), limited))
    schemas = _schemas([op for _, _, op, _, _ in ops])
    paths: dict[str, dict] = {}
    seen: set[str] = set()
    for path, method, op, params, limited in ops:
        out = _operation(op, params, f"{method}{path}", limited)
        if out["operationId"] in seen:
            raise ValueError(f"operationId {out['operationId']} twice")
        seen.add(out["operationId"])
        paths.setdefault(path, {})[method] = out
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "AI Pasta API",
            "version": "1.0.0",
            "description": "The REST API (`/api`), the OpenAI-compatible API (`/v1`) and the "
            "health check. The websocket protocol (`/ws`) is described in docs/websocket.md. "
            "A method a path does not take answers 405 with an `Allow` header.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": _SECURITY_SCHEMES},
    }


_SECURITY_SCHEMES = {
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
    WEBHOOK: {
        "type": "apiKey",
        "in": "header",
        "name": "X-Razorpay-Signature",
        "description": "Razorpay's HMAC-SHA256 of the raw body with the webhook secret (hex).",
    },
}


def _rate_limited(app: Flask, endpoint: str) -> bool:
    from web.extensions import limiter

    blueprint = endpoint.rpartition(".")[0] or None
    return not limiter.limit_manager.exemption_scope(app, endpoint, blueprint)


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
        for model in (*op.responses.values(), *op.error_schemas.values(), op.stream):
            if model is not None:
                models[(model, "serialization")] = None
    _, top = models_json_schema(list(models), ref_template="#/components/schemas/{model}")
    return top.get("$defs", {})


def _ref(model: type | str) -> dict[str, str]:
    name = model if isinstance(model, str) else model.__name__
    return {"$ref": f"#/components/schemas/{name}"}


def _operation(op: Operation, params: dict[str, dict], op_id: str, limited: bool) -> dict:
    out: dict[str, Any] = {
        "summary": op.summary,
        "operationId": re.sub(r"[^A-Za-z0-9]+", "_", op_id).strip("_"),
        "tags": list(op.tags),
        "responses": _responses(op, bool(params), limited),
    }
    if op.description:
        out["description"] = op.description
    parameters = [
        {"name": p, "in": "path", "required": True, "schema": params[p]} for p in sorted(params)
    ]
    if op.query is not None:
        parameters += _query_parameters(op.query)
    parameters += [
        {"name": name, "in": "header", "required": False, **spec}
        for name, spec in op.headers.items()
    ]
    if parameters:
        out["parameters"] = parameters
    if op.body is not None:
        out["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": _ref(op.body)}},
        }
    scheme = BEARER if op.auth == ADMIN else op.auth
    out["security"] = [{scheme: []}] if scheme else []
    return out


def _query_parameters(model: type[pydantic.BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        prop = _present(prop)
        param = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if "description" in prop:
            param["description"] = prop.pop("description")
        params.append(param)
    return params


def _present(prop: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema when it is given: a query string has no null (an optional
    parameter is left out), and no title."""
    prop = {k: v for k, v in prop.items() if k != "title"}
    members = [m for m in prop.get("anyOf", []) if m != {"type": "null"}]
    if len(members) == 1:
        del prop["anyOf"]
        prop = {**members[0], **prop}
    if prop.get("default", "") is None:
        del prop["default"]
    return prop


def _responses(op: Operation, path_variables: bool, limited: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, model in sorted(op.responses.items()):
        data = _ref(model) if model is not None else {"type": "object"}
        if op.envelope:
            data = {
                "type": "object",
                "required": ["status", "data"],
                "properties": {
                    "status": {"const": "success"},
                    "data": data,
                    "message": {"type": "string"},
                },
            }
        content = {"application/json": {"schema": data}}
        description = _STATUS_TEXT.get(status, "OK")
        if op.stream is not None:
            content["text/event-stream"] = {"schema": _event(op)}
            description += (
                "; with `stream: true`, server-sent events (the schema is one event's): "
                f"`data: {{{op.stream.__name__}}}` lines, then `data: [DONE]`; a failure after "
                f"the first event is one `data: {{{op.error_shape}}}` event"
            )
        out[str(status)] = {
            "description": description,
            "headers": _rate_headers(op) if limited else {},
            "content": content,
        }
    for status in op.statuses(path_variables, limited):
        schema = _ref(op.error_schemas.get(status) or op.error_shape)
        text = _STATUS_TEXT.get(status, "Error")
        if op.openai:  # `/v1` writes our codes in lower case
            text = re.sub(r"`([A-Z_]+)`", lambda m: f"`{m.group(1).lower()}`", text)
        out[str(status)] = {
            "description": text,
            "content": {"application/json": {"schema": schema}},
        }
        if status == 429:
            out[str(status)]["headers"] = _RETRY_AFTER
    return out


def _event(op: Operation) -> dict[str, Any]:
    """One server-sent event: its `data` is a chunk, an error (JSON), or `[DONE]`."""
    payload = {"anyOf": [_ref(op.stream), _ref(op.error_shape)]}
    json_data = {"contentMediaType": "application/json", "contentSchema": payload}
    return {
        "type": "object",
        "required": ["data"],
        "properties": {"data": {"type": "string", "anyOf": [{"const": "[DONE]"}, json_data]}},
    }


def _rate_headers(op: Operation) -> dict[str, Any]:
    """The rate limit's headers on a success (docs/api.md, docs/openai.md)."""
    integer = {"schema": {"type": "integer", "minimum": 0}}
    if not op.openai:
        return {
            "X-RateLimit-Limit": {"description": "Requests allowed per window", **integer},
            "X-RateLimit-Remaining": {"description": "Requests left in this window", **integer},
            "X-RateLimit-Reset": {"description": "Seconds until the window resets", **integer},
        }
    duration = {"schema": {"type": "string", "pattern": r"^(\d+h)?(\d+m)?\d+s$"}}
    return {
        "x-ratelimit-limit-requests": {"description": "Requests per window (per key)", **integer},
        "x-ratelimit-remaining-requests": {"description": "Requests left", **integer},
        "x-ratelimit-reset-requests": {"description": "Until the window resets", **duration},
        "x-ratelimit-limit-tokens": {"description": "The key's token cap (capped keys)", **integer},
        "x-ratelimit-remaining-tokens": {"description": "Tokens left under the cap", **integer},
        "x-ratelimit-reset-tokens": {"description": "Until the cap's period ends", **duration},
    }
