"""Verified addresses: confirming the address at sign-up, "resend", changing the address.

An address is verified when a link mailed to it was opened (sign-up, a change, a password
reset) or Google vouched for it (sign-in or link with `email_verified`). What needs it is
`require_verified`'s `ACTIONS`: buying, creating API keys, changing the address; chatting with
the free models does not (docs/account.md, "Verified addresses").
"""

from __future__ import annotations

import time

from common.accounts import notices
from common.errors import AppError, Conflict, ValidationError
from common.mail import outbox
from common.mail.render import link
from common.users import onetime
from common.users import service as users
from common.users.models import User
from common.users.onetime import LinkInvalid
from config import get_settings

ACTIONS = {
    "buy": "buy tokens or a plan",
    "api_key": "create an API key",
    "change_email": "change your address",
}


class EmailNotVerified(AppError):
    """403 EMAIL_NOT_VERIFIED: the action needs a confirmed address; `details.resend` says how
    to get a new link."""

    status, code = 403, "EMAIL_NOT_VERIFIED"

    def __init__(self, action: str):
        super().__init__(
            f"Confirm your email address to {ACTIONS[action]}: open the link we mailed you, "
            "or ask for a new one.",
            {"action": action, "resend": "POST /api/auth/verify-email/resend"},
        )


def require_verified(user: User, action: str) -> None:
    if not user.emailVerified:
        raise EmailNotVerified(action)


def _hours() -> int:
    return round(get_settings().verify_link_seconds / 3600)


def send_link(user: User) -> str | None:
    """Mail a confirmation link to the user's address (sign-up, "resend"). Returns the mail's
    key, or None when the address is confirmed already."""
    if user.emailVerified:
        return None
    ttl = get_settings().verify_link_seconds
    token, token_id = onetime.issue("verify", user.id, user.email, ttl)
    context = {
        "name": user.name,
        "email": user.email,
        "link": link("/verify-email", token),
        "hours": _hours(),
    }
    return outbox.queue(
        f"verify:{token_id}", "verify_email", user.email, context, user.id, time.time() + ttl
    )


def confirm(token: str) -> User:
    """Open a confirmation link: the address it was sent to is verified (once)."""
    record = onetime.consume("verify", token)
    if not users.mark_email_verified(record.userId, record.email):
        raise LinkInvalid("invalid")  # the account has another address now
    onetime.void(record.userId, "verify")
    return users.get_user(record.userId)


def request_change(user: User, new_email: str, password: str) -> str:
    """Mail a link to `new_email`; the address changes when it is opened. Needs a verified
    address and the password (a Google-only account: a fresh sign-in, checked by the caller)."""
    require_verified(user, "change_email")
    if user.password and not users.check_password(password, user.password):
        raise users.WrongPassword("password", "The password is wrong.")
    new = users.normalise_email(new_email)
    if new == user.email:
        raise ValidationError("newEmail: this is already your address.", {"field": "newEmail"})
    if users.find_by_email(new) is not None:
        raise Conflict("An account with this email already exists.", {"field": "newEmail"})
    ttl = get_settings().verify_link_seconds
    token, token_id = onetime.issue("change_email", user.id, new, ttl)
    context = {
        "name": user.name,
        "old_email": user.email,
        "new_email": new,
        "link": link("/confirm-email", token),
        "hours": _hours(),
    }
    return outbox.queue(
        f"change-email:{token_id}", "confirm_new_email", new, context, user.id, time.time() + ttl
    )


def confirm_change(token: str) -> tuple[User, str]:
    """Open a change link: the account moves to the new (now verified) address, and the old
    one is told. Returns the user and the notice's mail key."""
    record = onetime.consume("change_email", token)
    before = users.get_user(record.userId)
    if not before.isActive:
        raise LinkInvalid("invalid")
    user = users.change_email(before.id, before.email, record.email)
    for purpose in ("change_email", "verify", "reset"):  # links mailed to the old address
        onetime.void(user.id, purpose)
    return user, notices.email_changed(user, before.email, user.email, str(record.id))


def migrate(send_links: bool = False) -> dict[str, int]:
    """Accounts from before verification (docs/account.md, "Migration"): those linked to Google
    are verified (Google confirmed the address at sign-in or link); the others stay unverified
    until their owner opens a link — mailed now to each with `send_links`, else on "resend".
    Idempotent: a second run marks nothing and mails only those still unverified."""
    marked = users.mark_google_accounts_verified()
    unverified = [u for u in users.active_users() if not u.emailVerified]
    mailed = sum(1 for u in unverified if send_links and send_link(u))
    return {"googleVerified": marked, "unverified": len(unverified), "linksQueued": mailed}
