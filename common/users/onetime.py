"""One-time links: password reset, address confirmation, address change.

Only a SHA-256 of each token is stored (the token itself is 256 random bits, so a fast hash is
enough: nothing to brute-force). `consume` is one conditional update — unused, unexpired, this
purpose — so a link works once even when two clicks race; whoever loses is told the link was
used. Expiry times are epoch seconds (numbers compare the same on MongoDB and nx-27017).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

from mongoengine import DateTimeField, Document, FloatField, ObjectIdField, StringField
from pymongo import ReturnDocument

from common.errors import AppError
from common.stored import same_id, utcnow

PURPOSES = ("reset", "verify", "change_email")


class OneTimeToken(Document):
    tokenHash = StringField(required=True)  # noqa: N815
    purpose = StringField(required=True, choices=PURPOSES)
    userId = ObjectIdField(required=True)  # noqa: N815
    email = StringField(required=True)  # the address the link was sent to (new one for a change)
    expiresAt = FloatField(required=True)  # noqa: N815  epoch seconds
    usedAt = FloatField()  # noqa: N815  epoch seconds; set once
    createdAt = DateTimeField(default=utcnow)  # noqa: N815

    meta = {
        "collection": "one_time_tokens",
        "indexes": [
            {"fields": ["tokenHash"], "unique": True},
            {"fields": ["userId", "purpose"]},
        ],
    }


class LinkInvalid(AppError):
    """A one-time link that is unknown, used or expired: 400 INVALID_LINK with `reason`."""

    status, code = 400, "INVALID_LINK"
    MESSAGES = {
        "expired": "This link has expired. Ask for a new one.",
        "used": "This link was already used. Ask for a new one if you still need it.",
        "invalid": "This link is not valid. Check that you copied all of it, or ask for a new one.",
    }

    def __init__(self, reason: str):
        super().__init__(self.MESSAGES[reason], {"reason": reason.upper()})
        self.reason = reason


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(purpose: str, user_id: Any, email: str, ttl_seconds: float) -> tuple[str, str]:
    """A new link token for `purpose`, valid `ttl_seconds`. Returns (token, id): the token goes
    in the mail and nowhere else; the id names the mail (its idempotency key)."""
    token = secrets.token_urlsafe(32)
    doc = OneTimeToken(
        tokenHash=digest(token),
        purpose=purpose,
        userId=user_id,
        email=email,
        expiresAt=time.time() + ttl_seconds,
    )
    doc.save(force_insert=True)
    return token, str(doc.id)


def peek(purpose: str, token: str) -> OneTimeToken:
    """The token's record if it would work now (not consumed); else `LinkInvalid`."""
    doc = OneTimeToken.objects(tokenHash=digest(token), purpose=purpose).first()
    _check(doc)
    return doc


def consume(purpose: str, token: str) -> OneTimeToken:
    """Use the token: exactly one caller succeeds, once; every other gets `LinkInvalid`."""
    now = time.time()
    raw = OneTimeToken._get_collection().find_one_and_update(
        {"tokenHash": digest(token), "purpose": purpose, "usedAt": None, "expiresAt": {"$gt": now}},
        {"$set": {"usedAt": now}},
        return_document=ReturnDocument.AFTER,
    )
    if raw is None:
        _check(OneTimeToken.objects(tokenHash=digest(token), purpose=purpose).first())
        raise LinkInvalid("used")  # consumed between the two reads
    return OneTimeToken._from_son(raw)


def void(user_id: Any, purpose: str) -> None:
    """Make every unused link of this purpose for the user stop working (after a reset, the
    other reset links; after a confirmation, the other confirmation links)."""
    OneTimeToken._get_collection().update_many(
        {"userId": same_id(user_id), "purpose": purpose, "usedAt": None},
        {"$set": {"usedAt": time.time()}},
    )


def _check(doc: OneTimeToken | None) -> None:
    if doc is None:
        raise LinkInvalid("invalid")
    if doc.usedAt is not None:
        raise LinkInvalid("used")
    if doc.expiresAt <= time.time():
        raise LinkInvalid("expired")
