"""Security notices by mail: a password changed or reset, a new API key, "sign out everywhere",
an address changed. Each mail's key names its event (the token version a sign-out produced,
the key's id, ...), so handling an event twice mails once. Returns the key to send."""

from __future__ import annotations

from typing import Any

from common.mail import outbox
from common.mail.render import link
from common.stored import utcnow
from common.users.models import User


def when_text() -> str:
    now = utcnow()
    return f"{now.day} {now:%b %Y, %H:%M} UTC"


def _common(user: User) -> dict[str, Any]:
    return {
        "name": user.name,
        "email": user.email,
        "when": when_text(),
        "forgot_link": link("/forgot-password"),
    }


def password_changed(user: User, how: str = "changed") -> str:
    """`how`: changed, reset or set (a Google-only account's first password). `user` is read
    after the change: its token version names the event."""
    key = f"password-{how}:{user.id}:{user.tokenVersion}"
    context = {**_common(user), "how": how}
    return outbox.queue(key, "password_changed", user.email, context, user.id)


def signed_out_everywhere(user: User, version: int) -> str:
    key = f"signed-out-everywhere:{user.id}:{version}"
    return outbox.queue(key, "signed_out_everywhere", user.email, _common(user), user.id)


def api_key_created(user: User, key_id: Any, key_name: str, key_prefix: str) -> str:
    context = {
        **_common(user),
        "key_name": key_name,
        "key_prefix": key_prefix,
        "keys_link": link("/account/api-keys"),
    }
    return outbox.queue(api_key_mail(key_id), "api_key_created", user.email, context, user.id)


def api_key_mail(key_id: Any) -> str:
    """The key of the notice of API key `key_id` (queued by `apikeys.service.create_key`)."""
    return f"api-key-created:{key_id}"


def email_changed(user: User, old_email: str, new_email: str, change_id: str) -> str:
    """To the old address: the account moved away from it."""
    context = {**_common(user), "old_email": old_email, "new_email": new_email}
    return outbox.queue(f"email-changed:{change_id}", "email_changed", old_email, context, user.id)
