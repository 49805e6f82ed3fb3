"""The user snapshot: the same shape in every HTTP answer and websocket frame."""

from __future__ import annotations

from typing import Any

from common.stored import iso
from common.users.models import User


def snapshot(user: User) -> dict[str, Any]:
    t, sub = user.tokens, user.subscription
    return {
        "id": str(user.id),
        "email": user.email,
        "emailVerified": bool(user.emailVerified),
        "name": user.name,
        "role": user.role,
        "tokens": {
            "balance": t.balance,
            "freeTokens": t.freeTokens,
            "purchasedTokens": t.purchasedTokens,
            "usedTokens": t.usedTokens,
            "reserved": t.reserved,
        },
        "credits": user.credits,
        "walletVersion": user.walletVersion or 0,
        "subscription": {
            "plan": sub.plan,
            "expiresAt": iso(sub.expiresAt),
            "limits": {
                "requestsPerDay": sub.limits.requestsPerDay,
                "tokensPerMonth": None,  # no monthly cap: the wallet is the limit
            },
        },
    }


def profile(user: User) -> dict[str, Any]:
    """The snapshot plus profile fields (preferences, usage, dates)."""
    data = snapshot(user)
    data.update(
        avatar=user.avatar,
        isActive=user.isActive,
        preferences={
            "theme": user.preferences.theme,
            "defaultModels": list(user.preferences.defaultModels),
            "language": user.preferences.language,
            "temperature": user.preferences.temperature,
            "maxTokens": user.preferences.maxTokens,
        },
        hasPassword=bool(user.password),
        googleLinked=bool(user.googleId),
        usage={
            "totalRequests": user.usage.totalRequests,
            "totalTokens": user.usage.totalTokens,
            "totalCost": round(user.usage.totalCost, 6),
        },
        createdAt=iso(user.createdAt),
    )
    return data


def snapshot_from_doc(doc: dict) -> dict[str, Any]:
    """The snapshot of a raw user document (e.g. one a conditional update just returned)."""
    return snapshot(User._from_son(doc))
