"""`/api/admin` routes: every one needs an admin token (401 without a token, 403 for a user).

The routes live in `users`, `analytics`, `moderation` and `audit` beside this module and are
registered on this one blueprint when it is imported.
"""

from __future__ import annotations

from flask import Blueprint, g, request

from common.audit.service import Actor

bp = Blueprint("admin", __name__, url_prefix="/api/admin")
TAGS = ("Admin",)


def actor() -> Actor:
    """The admin making this request, for the audit log."""
    return Actor.of(g.user, request.remote_addr or "")


from web.admin import analytics, audit, mail, moderation, users  # noqa: E402, F401 (registers routes)
