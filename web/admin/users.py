"""`/api/admin/users`: find, inspect and fix accounts."""

from __future__ import annotations

from flask import request

from common.admin import moderation
from common.admin import users as service
from web.admin.routes import TAGS, actor, bp
from web.admin.schemas import (
    IDEMPOTENCY_KEY,
    BanBody,
    DeactivateBody,
    ResetBody,
    RoleBody,
    TokensBody,
    UserListQuery,
)
from web.openapi import ADMIN, operation
from web.responses import ok
from web.security import admin_required
from web.validation import optional_body, parse_body, parse_query, validate


@bp.get("/users")
@admin_required
@operation(
    "Find users",
    tags=TAGS,
    auth=ADMIN,
    query=UserListQuery,
    responses={200: None},
)
def list_users():
    return ok(service.list_users(parse_query(UserListQuery).command()))


@bp.get("/users/<user_id>")
@admin_required
@operation(
    "One user in detail",
    tags=TAGS,
    auth=ADMIN,
    responses={200: None},
)
def get_user(user_id: str):
    return ok(service.user_detail(user_id))


@bp.post("/users/<user_id>/activate")
@admin_required
@operation(
    "Activate a user",
    tags=TAGS,
    auth=ADMIN,
    responses={200: None},
)
def activate(user_id: str):
    return ok({"user": service.admin_view(service.set_active(actor(), user_id, True))})


@bp.post("/users/<user_id>/deactivate")
@admin_required
@operation(
    "Deactivate a user (not yourself)",
    tags=TAGS,
    auth=ADMIN,
    body=DeactivateBody,
    body_required=False,
    responses={200: None},
)
def deactivate(user_id: str):
    body = optional_body(DeactivateBody)
    user = service.set_active(actor(), user_id, False, body.reason)
    return ok({"user": service.admin_view(user)})


@bp.post("/users/<user_id>/ban")
@admin_required
@operation(
    "Ban a user (deactivate, with a reason)",
    tags=TAGS,
    auth=ADMIN,
    body=BanBody,
    responses={200: None},
)
def ban(user_id: str):
    body = parse_body(BanBody)
    return ok({"user": service.admin_view(moderation.ban(actor(), user_id, body.reason))})


@bp.patch("/users/<user_id>/role")
@admin_required
@operation(
    "Change a user's role (not your own admin role)",
    tags=TAGS,
    auth=ADMIN,
    body=RoleBody,
    responses={200: None},
)
def change_role(user_id: str):
    body = parse_body(RoleBody)
    return ok({"user": service.admin_view(service.change_role(actor(), user_id, body.role))})


IDEMPOTENCY_HEADER = {
    "Idempotency-Key": {
        "description": "The same as the body's `idempotencyKey` (the body's wins)",
        "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY},
    }
}


def _idempotency_key(body_key: str | None) -> str | None:
    return body_key or request.headers.get("Idempotency-Key") or None


def _tokens_answer(result: service.TokenResult, status: int):
    data = {
        "user": service.admin_view(result.user),
        "wallet": service.wallet_view(result.user),
        "amount": result.amount,
        "key": result.key,
        "replayed": result.replayed,
    }
    return ok(data, 200 if result.replayed else status)


@bp.post("/users/<user_id>/tokens/grant")
@admin_required
@operation(
    "Grant tokens (idempotent by key)",
    tags=TAGS,
    auth=ADMIN,
    headers=IDEMPOTENCY_HEADER,
    body=TokensBody,
    responses={201: None, 200: None},
    errors=(409,),
    description="201 when granted, 200 when the key was used before for the same grant (replayed); "
    "409 when it was used for another.",
)
def grant_tokens(user_id: str):
    body = parse_body(TokensBody)
    key = _idempotency_key(body.idempotencyKey)
    return _tokens_answer(
        service.grant_tokens(actor(), user_id, body.amount, body.reason, _checked(key)), 201
    )


@bp.post("/users/<user_id>/tokens/deduct")
@admin_required
@operation(
    "Deduct tokens (idempotent by key)",
    tags=TAGS,
    auth=ADMIN,
    headers=IDEMPOTENCY_HEADER,
    body=TokensBody,
    responses={201: None, 200: None},
    errors=(402, 409),
    description="201 when deducted, 200 when replayed; 402 when the wallet has fewer tokens; "
    "409 when the key was used for another deduction.",
)
def deduct_tokens(user_id: str):
    body = parse_body(TokensBody)
    key = _idempotency_key(body.idempotencyKey)
    return _tokens_answer(
        service.deduct_tokens(actor(), user_id, body.amount, body.reason, _checked(key)), 201
    )


@bp.post("/users/<user_id>/tokens/reset")
@admin_required
@operation(
    "Top the free tokens back up",
    tags=TAGS,
    auth=ADMIN,
    headers=IDEMPOTENCY_HEADER,
    body=ResetBody,
    body_required=False,
    responses={200: None},
    errors=(409,),
)
def reset_tokens(user_id: str):
    body = optional_body(ResetBody)
    key = _idempotency_key(body.idempotencyKey)
    return _tokens_answer(service.reset_free_tokens(actor(), user_id, _checked(key)), 200)


def _checked(key: str | None) -> str | None:
    """The header form of the key gets the same rule as the body's."""
    return validate(ResetBody, {"idempotencyKey": key}).idempotencyKey if key else None
