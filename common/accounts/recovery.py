"""Forgot password: a single-use link by mail, then a new password that ends every session.

`send_reset_link` runs in a worker for every request, known address or not, so the web answer
(202) is the same and takes the same time either way: no account oracle.
"""

from __future__ import annotations

import time

from common.mail import outbox
from common.mail.render import link
from common.users import onetime, passwords
from common.users import service as users
from common.users.models import User
from common.users.onetime import LinkInvalid
from config import get_settings


def send_reset_link(email: str) -> str | None:
    """Mail a reset link if `email` belongs to an active account. Returns the mail's key, or
    None (nobody to mail: the caller must not tell)."""
    user = users.find_by_email(email)
    if user is None or not user.isActive:
        return None
    ttl = get_settings().reset_link_seconds
    token, token_id = onetime.issue("reset", user.id, user.email, ttl)
    context = {
        "name": user.name,
        "email": user.email,
        "link": link("/reset-password", token),
        "minutes": round(ttl / 60),
    }
    return outbox.queue(
        f"reset:{token_id}", "reset_password", user.email, context, user.id, time.time() + ttl
    )


def reset_password(token: str, password: str) -> User:
    """Set `password` (the sign-up strength rules) with a reset link, once. Every session and
    token of the user stops working, the other reset links too; the address is verified (the
    link reached it). A Google-only account gets its first password this way."""
    record = onetime.peek("reset", token)
    user = users.find_user(record.userId)
    if user is None or not user.isActive or user.email != record.email:
        raise LinkInvalid("invalid")
    # Judged before the link is used up: a weak password leaves the link working.
    passwords.require_acceptable(password, "password", (user.email, user.name))
    onetime.consume("reset", token)
    user = users.set_password(user, password, "password_reset")
    users.mark_email_verified(user.id, record.email)
    onetime.void(user.id, "reset")
    user.reload()
    return user
