"""Token revocation that survives losing Redis: it lives on the user document in MongoDB.

- **Logout** (one token): the token's `jti` goes into `revokedTokens.<jti>` with the time the
  token expires (epoch seconds), in one update that also drops entries already expired, so the
  map holds only revoked tokens that would still be valid.
- **Logout everywhere** and **password change**: `tokenVersion` +1. Tokens carry it as `tv`; an
  older one is refused (`web.security.user_for_claims`). The map is emptied at the same time —
  the version refuses every older token anyway.

Both are read from the user document that every authenticated request (and a websocket's
periodic re-check) already loads, so checking costs no extra round trip, and a wiped, restarted
or replaced Redis revives no token: Redis holds no revocation state at all.
"""

from __future__ import annotations

import time
from typing import Any

from pymongo import ReturnDocument

from common.stored import object_id
from common.users.models import User


def _users():
    return User._get_collection()


def revoke_token(user_id: Any, jti: str, expires_at: float) -> None:
    """Refuse the token `jti` of this user from now until it would have expired (idempotent)."""
    uid = object_id(user_id)
    doc = _users().find_one({"_id": uid}, {"revokedTokens": 1}) or {}
    now = time.time()
    expired = [k for k, exp in (doc.get("revokedTokens") or {}).items() if float(exp) <= now]
    update: dict[str, Any] = {"$set": {f"revokedTokens.{_field(jti)}": int(expires_at)}}
    if expired:
        update["$unset"] = {f"revokedTokens.{k}": "" for k in expired}
    _users().update_one({"_id": uid}, update)


def is_revoked(user: User, jti: str) -> bool:
    return _field(jti) in (user.revokedTokens or {})


def revoke_all(user_id: Any, reason: str = "signed_out_everywhere") -> int:
    """Refuse every token issued to this user so far (sign out everywhere): the token version
    they carry is now old, so the single revocations are no longer needed. `reason` is what a
    signed-out tab is told. Returns the new token version (it names this sign-out)."""
    doc = _users().find_one_and_update(
        {"_id": object_id(user_id)},
        {
            "$inc": {"tokenVersion": 1},
            "$set": {"revokedTokens": {}, "signOutReason": reason},
            "$currentDate": {"updatedAt": True},
        },
        projection={"tokenVersion": 1},
        return_document=ReturnDocument.AFTER,
    )
    return int((doc or {}).get("tokenVersion") or 0)


def _field(jti: str) -> str:
    """The jti as a field name (flask-jwt-extended's are UUIDs; never a dot or a leading $)."""
    return str(jti).replace(".", "_").replace("$", "_")
