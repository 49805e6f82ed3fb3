"""Accounts: registration, password login, Google sign-in, profile and password changes."""

from __future__ import annotations

import logging
from typing import Any

import bcrypt
from mongoengine.errors import NotUniqueError
from mongoengine.errors import ValidationError as DocumentInvalid
from pymongo.errors import DuplicateKeyError

from common.errors import AppError, Conflict, NotFound, Unauthorized, ValidationError
from common.stored import object_id, object_id_or_none, utcnow
from common.users import credentials, passwords
from common.users.models import PLAN_LIMITS, User
from common.users.passwords import MAX_PASSWORD_BYTES
from common.wallet import service as wallet
from config import get_settings

log = logging.getLogger(__name__)

_dummy_hashes: dict[int, bytes] = {}


class WrongPassword(AppError):
    """The password given to confirm an action is wrong: 400, never 401 — the session is fine,
    and a client treats 401 as "signed out" (docs/client.md)."""

    status, code = 400, "WRONG_PASSWORD"

    def __init__(self, field: str, message: str = "The current password is wrong."):
        super().__init__(message, {"field": field})


def _dummy_hash() -> bytes:
    """A hash as costly to check as a real one, so an unknown email answers as slowly as a
    wrong password (the time taken must not tell whether an account exists)."""
    rounds = get_settings().bcrypt_rounds
    if rounds not in _dummy_hashes:
        _dummy_hashes[rounds] = bcrypt.hashpw(b"timing-equaliser", bcrypt.gensalt(rounds=rounds))
    return _dummy_hashes[rounds]


def hash_password(password: str) -> str:
    rounds = get_settings().bcrypt_rounds
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()


def check_password(password: str, hashed: str | None) -> bool:
    if not hashed:
        bcrypt.checkpw(password.encode()[:MAX_PASSWORD_BYTES], _dummy_hash())
        return False
    return bcrypt.checkpw(password.encode()[:MAX_PASSWORD_BYTES], hashed.encode())


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_by_email(email: str) -> User | None:
    return User.objects(email=normalise_email(email)).first()


def get_user(user_id: Any) -> User:
    oid = object_id_or_none(user_id)
    user = find_user(oid) if oid else None
    if user is None:
        raise NotFound("User not found.")
    return user


def find_user(user_id: Any) -> User | None:
    """The user by id, or None. Read with the driver and built once: a mongoengine queryset
    costs about as much CPU again as the read, and this runs on every request."""
    doc = find_user_doc(user_id)
    return User._from_son(doc) if doc is not None else None


# What a request's checks never need of the user: the wallet's open holds and credit markers.
# Under many concurrent answers a batch job's document holds hundreds of holds, and building a
# User from them on every request costs more CPU than the read.
WALLET_INTERNALS = {"holds": 0, "applying": 0}


def find_user_doc(user_id: Any, *, for_request: bool = False) -> dict | None:
    """The user's document; `for_request`: without `WALLET_INTERNALS` (checks and snapshots
    read the pools' totals, never the holds)."""
    fields = WALLET_INTERNALS if for_request else None
    return User._get_collection().find_one({"_id": user_id}, fields)


def register(email: str, password: str, name: str, role: str = "user") -> User:
    """A password account (the API's sign-up, the CLI's admins). Its email is not verified:
    Google sign-in never logs into it (see `sign_in_with_google`)."""
    passwords.require_acceptable(password, "password", (email, name))
    user = User(
        email=normalise_email(email),
        password=hash_password(password),
        name=name.strip(),
        role=role,
    )
    try:
        user.save()
    except NotUniqueError:
        raise Conflict("An account with this email already exists.", {"field": "email"}) from None
    except DocumentInvalid as exc:  # callers without a request schema (the CLI) reach here
        raise ValidationError(
            f"The account is not valid: {exc}", {"errors": exc.to_dict()}
        ) from None
    return grant_signup_tokens(user)


def grant_signup_tokens(user: User) -> User:
    """Give the sign-up grant once (safe to call again; login calls it to heal a crashed signup)."""
    wallet.grant_free_tokens(user.id, get_settings().free_tokens)
    user.reload()
    return user


def authenticate(email: str, password: str) -> User:
    user = find_by_email(email)
    password_ok = check_password(password, user.password if user else None)
    if user is None or not password_ok:
        raise Unauthorized("Invalid email or password.")
    if not user.isActive:
        raise Unauthorized("This account is deactivated.")
    return grant_signup_tokens(user)


def change_password(user: User, current: str, new: str) -> User:
    """Change the password, or set the first one of a Google-only account (the caller checks
    that such a request comes from a fresh sign-in). A wrong current password is
    `WrongPassword` (400): nothing changes and the session stays."""
    if user.password and not check_password(current, user.password):
        raise WrongPassword("currentPassword")
    passwords.require_acceptable(new, "newPassword", (user.email, user.name))
    return set_password(user, new, "password_changed")


def set_password(user: User, new: str, reason: str) -> User:
    """Store `new` (already judged acceptable by the caller) and end every session: the token
    version moves, so every token issued before stops working; `reason` tells the signed-out
    tabs why (`SIGN_OUT_REASONS`)."""
    User._get_collection().update_one(
        {"_id": user.id},
        {
            "$set": {"password": hash_password(new), "signOutReason": reason},
            "$inc": {"tokenVersion": 1},
            "$currentDate": {"passwordChangedAt": True, "updatedAt": True},
        },
    )
    user.reload()
    return user


def mark_email_verified(user_id: Any, email: str) -> bool:
    """Record that `email` was proved to be the user's; only while it is still their address
    (a confirmation of an address changed since proves nothing). True when it is verified."""
    users, user_id = User._get_collection(), object_id(user_id)
    users.update_one(
        {"_id": user_id, "email": normalise_email(email), "emailVerified": {"$ne": True}},
        {"$set": {"emailVerified": True}, "$currentDate": {"emailVerifiedAt": True}},
    )
    doc = users.find_one({"_id": user_id}, {"email": 1, "emailVerified": 1}) or {}
    return doc.get("email") == normalise_email(email) and bool(doc.get("emailVerified"))


def change_email(user_id: Any, old: str, new: str) -> User:
    """Move the account from `old` to `new` (proved: the link was opened from it), if it is still
    at `old`. `Conflict` when another account took `new` meanwhile."""
    try:
        done = User._get_collection().update_one(
            {"_id": object_id(user_id), "email": normalise_email(old)},
            {
                "$set": {"email": normalise_email(new), "emailVerified": True},
                "$currentDate": {"emailVerifiedAt": True, "updatedAt": True},
            },
        )
    except DuplicateKeyError:
        raise Conflict("An account with this email already exists.", {"field": "email"}) from None
    if not done.matched_count:
        raise Conflict("The account's address changed meanwhile; ask for a new link.")
    credentials.changed(user_id)
    return get_user(user_id)


def active_users() -> list[User]:
    """Every active account (a migration's walk; not for requests)."""
    return list(User.objects(isActive=True))


def mark_google_accounts_verified() -> int:
    """The migration of accounts from before verification: those linked to Google had their
    address confirmed by Google at sign-in or link. Returns how many were marked."""
    res = User._get_collection().update_many(
        {"googleId": {"$nin": [None, ""]}, "emailVerified": {"$ne": True}},
        {"$set": {"emailVerified": True}, "$currentDate": {"emailVerifiedAt": True}},
    )
    return res.modified_count


def update_profile(user: User, changes: dict[str, Any]) -> User:
    updates: dict[str, Any] = {"set__updatedAt": utcnow()}
    if "name" in changes:
        updates["set__name"] = changes["name"].strip()
    if "avatar" in changes:
        updates["set__avatar"] = changes["avatar"]
    prefs = changes.get("preferences") or {}
    cap = get_settings().max_tokens_per_request
    if (prefs.get("maxTokens") or 0) > cap:
        raise ValidationError(
            f"Max tokens can be at most {cap}.", {"field": "preferences.maxTokens", "max": cap}
        )
    for key, value in prefs.items():
        updates[f"set__preferences__{key}"] = value
    User.objects(id=user.id).update_one(**updates)
    user.reload()
    return user


class GoogleEmailTaken(Conflict):
    """Google vouches for an email that an account not linked to this Google identity holds.

    Password accounts are never linked by email alone: the product does not verify emails, so
    anyone could have registered the address first (account pre-hijacking). The owner signs in
    with the password and links Google from the account (`link_google`)."""

    def __init__(self, email: str):
        super().__init__(
            "An account with this email already exists and is not connected to this Google "
            "account. Sign in with its password, then connect Google from your account.",
            {"reason": "GOOGLE_NOT_LINKED", "email": email, "link": "POST /api/auth/google/link"},
        )


def _google_identity(claims: dict[str, Any]) -> tuple[str, str]:
    """The Google subject and the email Google verified; `Unauthorized` when not verified."""
    email, sub, verified = claims.get("email"), claims.get("sub"), claims.get("email_verified")
    if not isinstance(sub, str) or not sub:
        raise Unauthorized("The Google token is not valid.")
    if (
        not isinstance(email, str)
        or not email.strip()
        or not (verified is True or verified == "true")
    ):
        raise Unauthorized("Google did not confirm this email address.")
    return sub, normalise_email(email)


def sign_in_with_google(claims: dict[str, Any]) -> User:
    """Log into the account linked to this Google identity, or create one for a new email.
    An email already held by another account is `GoogleEmailTaken` (409), never a login."""
    google_id, email = _google_identity(claims)
    user = User.objects(googleId=google_id).first()
    if user is None:
        if User.objects(email=email).first() is not None:
            raise GoogleEmailTaken(email)
        user = User(
            email=email,
            googleId=google_id,
            name=(claims.get("name") or email.split("@")[0])[:100],
            avatar=claims.get("picture"),
            emailVerified=True,  # Google vouched for it (`_google_identity`)
            emailVerifiedAt=utcnow(),
        )
        try:
            user.save()
        except NotUniqueError:  # the email was registered a moment ago
            raise GoogleEmailTaken(email) from None
    if not user.isActive:
        raise Unauthorized("This account is deactivated.")
    if not user.emailVerified and mark_email_verified(user.id, email):
        user.reload()  # Google vouches for the address the account has now
    return grant_signup_tokens(user)


def link_google(user: User, claims: dict[str, Any]) -> User:
    """Connect a Google identity to the signed-in `user`, whose password proved who they are;
    Google's token proves the email is theirs too. Linking the same identity again is a no-op."""
    try:
        google_id, email = _google_identity(claims)
    except Unauthorized as exc:  # the Google token's fault: 400, the session stays (see google)
        raise ValidationError(exc.message, {"field": "idToken"}) from None
    if email != user.email:
        raise Conflict(
            f"This Google account is for {email}, but you are signed in as {user.email}.",
            {"reason": "GOOGLE_EMAIL_MISMATCH"},
        )
    owner = User.objects(googleId=google_id).first()
    if owner is not None and owner.id != user.id:
        raise Conflict(
            "This Google account is connected to another account.", {"reason": "GOOGLE_IN_USE"}
        )
    linked = User.objects(id=user.id, googleId=None).update_one(set__googleId=google_id)
    mark_email_verified(user.id, email)  # Google's token proves the address too
    user.reload()
    if not linked and user.googleId != google_id:
        raise Conflict(
            "Your account is connected to another Google account.", {"reason": "GOOGLE_IN_USE"}
        )
    return user


def set_active(user: User, active: bool, reason: str = "") -> User:
    User.objects(id=user.id).update_one(
        set__isActive=active, set__deactivatedReason=reason or None, set__updatedAt=utcnow()
    )
    credentials.changed(user.id)
    user.reload()
    return user


def set_role(user: User, role: str) -> User:
    """`$currentDate` rather than `$set` of a datetime: nx-27017 stores the latter as text."""
    User._get_collection().update_one(
        {"_id": user.id}, {"$set": {"role": role}, "$currentDate": {"updatedAt": True}}
    )
    credentials.changed(user.id)
    user.reload()
    return user


def free_plan_limits() -> dict[str, int]:
    return dict(PLAN_LIMITS["free"])
