"""`/api/user/*`: profile, preferences, password, sign out everywhere, delete the account."""

from __future__ import annotations

from flask import Blueprint, g

from common.accounts import closing
from common.users import revocation
from common.users import service as users
from common.users.snapshot import profile
from web.responses import ok
from web.security import issue_token, login_required, require_fresh_sign_in
from web.user.schemas import DeleteAccountBody, PasswordBody, ProfileBody
from web.validation import parse_body

bp = Blueprint("user", __name__, url_prefix="/api/user")


@bp.get("/profile")
@login_required
def get_profile():
    return ok({"user": profile(g.user)})


@bp.put("/profile")
@login_required
def update_profile():
    body = parse_body(ProfileBody)
    changes = body.model_dump(exclude_none=True)
    user = users.update_profile(g.user, changes)
    return ok({"user": profile(user)}, message="Profile updated")


@bp.put("/password")
@login_required
def change_password():
    body = parse_body(PasswordBody)
    if not g.user.password:  # a Google-only account: no password to confirm, so a recent sign-in
        require_fresh_sign_in(
            "Setting a first password needs a recent sign-in: sign in with Google again, "
            "then set it within a few minutes."
        )
    user = users.change_password(g.user, body.currentPassword, body.newPassword)
    # Every older token stops working; the caller gets a new one (not fresh: no sign-in).
    return ok({"user": profile(user), "token": issue_token(user)}, message="Password changed")


@bp.post("/logout-all")
@login_required
def logout_everywhere():
    """Sign out of every device, this one included: every token issued so far stops working."""
    revocation.revoke_all(g.user.id)
    return ok({}, message="Signed out everywhere")


@bp.delete("")
@login_required
def delete_account():
    body = parse_body(DeleteAccountBody)
    closing.delete_account(g.user, body.password)
    return ok({"deleted": True}, message="Account deleted")
