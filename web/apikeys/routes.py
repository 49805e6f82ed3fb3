"""`/api/user/api-keys` (a user's own keys) and `/api/admin/users/<id>/api-keys` (an admin's).

Keys are managed with a login token only: an API key authenticates the `/v1` routes and nothing
else (see `web.openai.auth`).
"""

from __future__ import annotations

from flask import Blueprint, g, request

from common.accounts import notices
from common.apikeys import service
from common.audit.service import Actor
from common.catalog import cache as catalog_cache
from common.errors import AppError, ValidationError
from common.users.service import get_user
from web.apikeys.schemas import (
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyRevoked,
    CreateKeyBody,
    ListKeysQuery,
)
from web.mail import deliver_soon
from web.openapi import ADMIN, operation
from web.responses import ok
from web.security import admin_required, login_required
from web.validation import parse_body, parse_query

bp = Blueprint("apikeys", __name__, url_prefix="/api/user/api-keys")
admin_bp = Blueprint("admin_apikeys", __name__, url_prefix="/api/admin/users")

TAGS = ("API keys",)


def _actor() -> Actor:
    return Actor.of(g.user, request.remote_addr or "")


@bp.post("")
@login_required
@operation(
    "Create an API key (the secret is answered once)",
    tags=TAGS,
    body=CreateKeyBody,
    responses={201: ApiKeyCreated},
    errors=(403,),
    description="400 also for an unknown model in `models`, an `expiresAt` in the past, or a "
    "51st live key; 403 `EMAIL_NOT_VERIFIED` until the account's address is confirmed.",
)
def create_key():
    body = parse_body(CreateKeyBody)
    _check_models(body.models)
    key, secret = service.create_key(g.user, body.command(), _actor())
    deliver_soon(notices.api_key_mail(key.id))
    return ok({"key": service.key_dict(key), "secret": secret}, 201)


def _check_models(model_ids: list[str]) -> None:
    for i, model_id in enumerate(model_ids):
        try:
            catalog_cache.model(model_id)
        except AppError:
            raise ValidationError(
                f"models.{i}: unknown model {model_id!r}", {"field": f"models.{i}"}
            ) from None


@bp.get("")
@login_required
@operation(
    "List your API keys (never the secrets); `?revoked=true` adds the revoked ones",
    tags=TAGS,
    query=ListKeysQuery,
    responses={200: ApiKeyList},
)
def list_keys():
    q = parse_query(ListKeysQuery)
    keys = service.list_keys(g.user.id, include_revoked=q.revoked)
    spent = service.spending(g.user.id)
    return ok({"keys": [service.key_dict(k, spent) for k in keys]})


@bp.delete("/<key_id>")
@login_required
@operation(
    "Revoke an API key (it stops working at once)",
    tags=TAGS,
    responses={200: ApiKeyRevoked},
)
def revoke_key(key_id: str):
    key = service.revoke_key(g.user.id, key_id, _actor())
    return ok({"key": service.key_dict(key)}, message="API key revoked")


@admin_bp.get("/<user_id>/api-keys")
@admin_required
@operation(
    "List a user's API keys, revoked ones too (admin)",
    tags=("Admin",),
    auth=ADMIN,
    responses={200: ApiKeyList},
)
def admin_list_keys(user_id: str):
    user = get_user(user_id)
    keys = service.list_keys(user.id, include_revoked=True)
    spent = service.spending(user.id)
    return ok({"keys": [service.key_dict(k, spent) for k in keys]})


@admin_bp.delete("/<user_id>/api-keys/<key_id>")
@admin_required
@operation(
    "Revoke a user's API key (admin; audited)",
    tags=("Admin",),
    auth=ADMIN,
    responses={200: ApiKeyRevoked},
)
def admin_revoke_key(user_id: str, key_id: str):
    key = service.revoke_key(user_id, key_id, _actor())
    return ok({"key": service.key_dict(key)}, message="API key revoked")
