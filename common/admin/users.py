"""User management use cases for admins: find, inspect, (de)activate, change role, move tokens.

Every write goes through the owning service (`common.users.service`, `common.wallet.service`)
and leaves an audit record. Tokens only move as ledger entries, never by editing a balance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bson import ObjectId

from common.audit import service as audit
from common.audit.service import Actor
from common.conversations import sessions
from common.errors import Conflict, Forbidden, ValidationError
from common.stored import iso_or_text
from common.users import service as users
from common.users.models import ROLES, User
from common.users.snapshot import profile
from common.wallet import service as wallet
from config import get_settings

SORTS = {
    "createdAt": "createdAt",
    "email": "email",
    "name": "name",
    "tokens.balance": "tokens.balance",
    "usage": "usage.totalTokens",
}
RECENT_LEDGER = 20
RECENT_SESSIONS = 10


@dataclass(frozen=True)
class UserQuery:
    search: str | None = None
    role: str | None = None
    active: bool | None = None
    plan: str | None = None
    sort: str = "createdAt"
    order: str = "desc"
    page: int = 1
    limit: int = 20


# -- reading -----------------------------------------------------------------------------------


def list_users(q: UserQuery) -> dict:
    """One page of users; the search matches email or name, case-insensitively, as literal text."""
    query = User.objects(**_filters(q))
    if q.search:
        pattern = re.escape(q.search)
        query = query.filter(
            __raw__={
                "$or": [
                    {"email": {"$regex": pattern, "$options": "i"}},
                    {"name": {"$regex": pattern, "$options": "i"}},
                ]
            }
        )
    total = query.count()
    sign = "-" if q.order == "desc" else ""
    rows = query.order_by(f"{sign}{SORTS[q.sort]}", f"{sign}id")
    rows = rows.skip((q.page - 1) * q.limit).limit(q.limit)
    return {
        "users": [admin_view(u) for u in rows],
        "pagination": audit.pagination(q.page, q.limit, total),
    }


def _filters(q: UserQuery) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    if q.role:
        filters["role"] = q.role
    if q.active is not None:
        filters["isActive"] = q.active
    if q.plan:
        filters["subscription__plan"] = q.plan
    return filters


def admin_view(user: User) -> dict:
    """The profile plus what only admins see."""
    data = profile(user)
    data.update(deactivatedReason=user.deactivatedReason, updatedAt=iso_or_text(user.updatedAt))
    return data


def user_detail(user_id: Any) -> dict:
    user = users.get_user(user_id)
    return {
        "user": admin_view(user),
        "wallet": wallet_view(user),
        "ledger": [ledger_view(e) for e in wallet.entries_for(user.id, RECENT_LEDGER)],
        "sessions": [session_view(s) for s in sessions.recent_documents(user.id, RECENT_SESSIONS)],
    }


def wallet_view(user: User) -> dict:
    t = user.tokens
    holds = [
        {
            "key": key,
            "amount": h.get("amount", 0),
            "free": h.get("free", 0),
            "purchased": h.get("purchased", 0),
            "at": iso_or_text(h.get("at")),
        }
        for key, h in (user.holds or {}).items()
    ]
    return {
        "balance": t.balance,
        "freeTokens": t.freeTokens,
        "purchasedTokens": t.purchasedTokens,
        "usedTokens": t.usedTokens,
        "reserved": t.reserved,
        "lastResetDate": iso_or_text(t.lastResetDate),
        "holds": holds,
    }


def ledger_view(entry: dict) -> dict:
    return {
        "key": entry["key"],
        "kind": entry["kind"],
        "amount": entry["amount"],
        "free": entry.get("free", 0),
        "purchased": entry.get("purchased", 0),
        "source": entry.get("source", ""),
        "details": entry.get("details") or {},
        "createdAt": iso_or_text(entry.get("createdAt")),
    }


def session_view(doc: dict) -> dict:
    moderation = doc.get("moderation") or {}
    return {
        "sessionId": doc["sessionId"],
        "title": doc.get("title", ""),
        "models": doc.get("models") or [],
        "messageCount": doc.get("messageCount", 0),
        "totalTokens": doc.get("totalTokens", 0),
        "totalCost": doc.get("totalCost", 0.0),
        "flagged": bool(moderation.get("flagged")),
        "hidden": bool(moderation.get("hidden")),
        "lastMessageAt": iso_or_text(doc.get("lastMessageAt")),
        "createdAt": iso_or_text(doc.get("createdAt")),
    }


# -- account state -----------------------------------------------------------------------------


def set_active(
    actor: Actor, user_id: Any, active: bool, reason: str = "", action: str = ""
) -> User:
    """(De)activate; a deactivated user's tokens stop working on their next request."""
    user = users.get_user(user_id)
    if not active and str(user.id) == actor.id:
        raise Forbidden("You cannot deactivate your own account.")
    before = _state(user)
    users.set_active(user, active, reason)
    default = "user.activate" if active else "user.deactivate"
    audit.record(actor, action or default, "user", user.id, before, _state(user))
    return user


def change_role(actor: Actor, user_id: Any, role: str) -> User:
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}", {"field": "role"})
    user = users.get_user(user_id)
    if str(user.id) == actor.id and role != "admin":
        raise Forbidden("You cannot remove your own admin role.")
    before = _state(user)
    users.set_role(user, role)
    audit.record(actor, "user.role", "user", user.id, before, _state(user))
    return user


def create_admin(actor: Actor, email: str, password: str, name: str) -> User:
    """A new admin account: registered like any user, then promoted by the audited role change."""
    user = users.register(email, password, name)
    return change_role(actor, user.id, "admin")


def _state(user: User) -> dict:
    return {
        "role": user.role,
        "isActive": user.isActive,
        "deactivatedReason": user.deactivatedReason,
    }


# -- tokens ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenResult:
    user: User
    amount: int
    key: str
    replayed: bool  # True when the key had already been used: nothing changed this time


def _action_key(kind: str, user_id: ObjectId, idempotency_key: str | None) -> str:
    """One ledger key per admin action; a client's key makes a retried request a no-op."""
    return f"admin-{kind}-{user_id}-{idempotency_key or ObjectId()}"


def _check_replay(entry: dict | None, amount: int, user_id: ObjectId) -> None:
    if entry is not None and (abs(entry["amount"]) != amount or entry["user"] != user_id):
        raise Conflict(
            "This idempotencyKey was already used for a different change.",
            {"field": "idempotencyKey"},
        )


def grant_tokens(
    actor: Actor, user_id: Any, amount: int, reason: str, idempotency_key: str | None = None
) -> TokenResult:
    """Credit `amount` purchased tokens (they never expire with a free-allowance reset)."""
    user = users.get_user(user_id)
    key = _action_key("grant", user.id, idempotency_key)
    _check_replay(wallet.entry(key), amount, user.id)
    before = wallet_state(user)
    details = {"reason": reason, "admin": actor.email or actor.id}
    _, applied = wallet.credit(user.id, amount, key, "admin", pool="purchased", details=details)
    user.reload()
    if applied:
        after = {**wallet_state(user), "amount": amount, "key": key, "reason": reason}
        audit.record(actor, "tokens.grant", "user", user.id, before, after)
    return TokenResult(user, amount, key, not applied)


def deduct_tokens(
    actor: Actor, user_id: Any, amount: int, reason: str, idempotency_key: str | None = None
) -> TokenResult:
    """Take `amount` spendable tokens back, free pool first (the order chat spends them in).

    All or nothing: a user with fewer spendable tokens gets 402 INSUFFICIENT_TOKENS and keeps
    them, so an admin never takes less than they asked for without noticing.
    """
    user = users.get_user(user_id)
    key = _action_key("deduct", user.id, idempotency_key)
    existing = wallet.entry(key)
    _check_replay(existing, amount, user.id)
    before = wallet_state(user)
    details = {"reason": reason, "admin": actor.email or actor.id}
    taken = wallet.debit(
        user.id, amount, key, "admin", pools=("free", "purchased"), clamp=False, details=details
    )
    user.reload()
    if existing is None:
        after = {**wallet_state(user), "amount": taken, "key": key, "reason": reason}
        audit.record(actor, "tokens.deduct", "user", user.id, before, after)
    return TokenResult(user, taken, key, existing is not None)


def wallet_state(user: User) -> dict:
    t = user.tokens
    return {
        "balance": t.balance,
        "freeTokens": t.freeTokens,
        "purchasedTokens": t.purchasedTokens,
        "reserved": t.reserved,
    }


def reset_free_tokens(actor: Actor, user_id: Any, reset_id: str | None = None) -> TokenResult:
    """Top the free pool back up to the allowance (`FREE_TOKENS`): the guide's upgradeUserTokens.

    The wallet decides how much is missing (`wallet.reset_free_tokens`); the same `reset_id`
    again changes nothing.
    """
    user = users.get_user(user_id)
    before = wallet_state(user)
    details = {"reason": "free allowance reset", "admin": actor.email or actor.id}
    allowance = get_settings().free_tokens
    reset = wallet.reset_free_tokens(user.id, allowance, reset_id, "admin", details)
    user.reload()
    if reset.added:
        after = {**wallet_state(user), "amount": reset.added, "key": reset.key}
        audit.record(actor, "tokens.reset", "user", user.id, before, after)
    return TokenResult(user, reset.added, reset.key, reset.replayed)


def reset_all_free_tokens(actor: Actor, reset_id: str) -> tuple[int, int]:
    """Reset every user's free allowance; returns (users topped up, tokens added)."""
    topped, added = 0, 0
    for user_id in User.objects.scalar("id"):
        result = reset_free_tokens(actor, user_id, reset_id)
        if result.amount:
            topped, added = topped + 1, added + result.amount
    return topped, added
