"""`/api/admin/users`: find, inspect and fix accounts."""

from __future__ import annotations

from flask import request

from common.admin import moderation
from common.admin import users as service
from web.admin.routes import actor, bp
from web.admin.schemas import (
    BanBody,
    DeactivateBody,
    ResetBody,
    RoleBody,
    TokensBody,
    UserListQuery,
)
from web.responses import ok
from web.security import admin_required
from web.validation import optional_body, parse_body, parse_query, validate


@bp.get("/users")
@admin_required
def list_users():
    q = parse_query(UserListQuery)
    query = service.UserQuery(
        search=q.q,
        role=q.role,
        active=q.active,
        plan=q.plan,
        sort=q.sort,
        order=q.order,
        page=q.page,
        limit=q.limit,
    )
    return ok(service.list_users(query))


@bp.get("/users/<user_id>")
@admin_required
def get_user(user_id: str):
    return ok(service.user_detail(user_id))


@bp.post("/users/<user_id>/activate")
@admin_required
def activate(user_id: str):
    return ok({"user": service.admin_view(service.set_active(actor(), user_id, True))})


@bp.post("/users/<user_id>/deactivate")
@admin_required
def deactivate(user_id: str):
    body = optional_body(DeactivateBody)
    user = service.set_active(actor(), user_id, False, body.reason)
    return ok({"user": service.admin_view(user)})


@bp.post("/users/<user_id>/ban")
@admin_required
def ban(user_id: str):
    body = parse_body(BanBody)
    return ok({"user": service.admin_view(moderation.ban(actor(), user_id, body.reason))})


@bp.patch("/users/<user_id>/role")
@admin_required
def change_role(user_id: str):
    body = parse_body(RoleBody)
    return ok({"user": service.admin_view(service.change_role(actor(), user_id, body.role))})


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
def grant_tokens(user_id: str):
    body = parse_body(TokensBody)
    key = _idempotency_key(body.idempotencyKey)
    return _tokens_answer(
        service.grant_tokens(actor(), user_id, body.amount, body.reason, _checked(key)), 201
    )


@bp.post("/users/<user_id>/tokens/deduct")
@admin_required
def deduct_tokens(user_id: str):
    body = parse_body(TokensBody)
    key = _idempotency_key(body.idempotencyKey)
    return _tokens_answer(
        service.deduct_tokens(actor(), user_id, body.amount, body.reason, _checked(key)), 201
    )


@bp.post("/users/<user_id>/tokens/reset")
@admin_required
def reset_tokens(user_id: str):
    body = optional_body(ResetBody)
    key = _idempotency_key(body.idempotencyKey)
    return _tokens_answer(service.reset_free_tokens(actor(), user_id, _checked(key)), 200)


def _checked(key: str | None) -> str | None:
    """The header form of the key gets the same rule as the body's."""
    return validate(ResetBody, {"idempotencyKey": key}).idempotencyKey if key else None
