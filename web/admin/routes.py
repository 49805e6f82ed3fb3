"""`/api/admin` routes: every one needs an admin token (401 without a token, 403 for a user).

The routes live in `users`, `analytics`, `moderation` and `audit` beside this module and are
registered on this one blueprint when it is imported.
"""

from __future__ import annotations

from flask import Blueprint, g, request

from common.admin.audit import Actor
from web.validation import M, parse_body, validate

bp = Blueprint("admin", __name__, url_prefix="/api/admin", cli_group=None)


def actor() -> Actor:
    """The admin making this request, for the audit log."""
    return Actor.of(g.user, request.remote_addr or "")


def optional_body(model: type[M]) -> M:
    """Parse a body that may be absent altogether (actions with only optional fields)."""
    if not request.get_data():
        return validate(model, {})
    return parse_body(model)


from web.admin import analytics, audit, moderation, users  # noqa: E402, F401  (registers routes)
