"""`/api/user/*`: profile, preferences, password, sign out everywhere, delete the account."""

from __future__ import annotations

from flask import Blueprint, g

from common.accounts import closing, notices, verification
from common.users import revocation
from common.users import service as users
from common.users.snapshot import profile
from web import api_models as out
from web.auth.routes import resend_limit
from web.extensions import limiter, user_or_ip
from web.mail import deliver_soon
from web.openapi import operation
from web.responses import ok
from web.security import issue_token, login_required, require_fresh_sign_in
from web.user.schemas import (
    DeleteAccountBody,
    EmailChangeAccepted,
    EmailChangeBody,
    PasswordBody,
    ProfileBody,
)
from web.validation import parse_body

bp = Blueprint("user", __name__, url_prefix="/api/user")


@bp.get("/profile")
@login_required
@operation("Your profile", tags=("User",), responses={200: out.UserData})
def get_profile():
    return ok({"user": profile(g.user)})


@bp.put("/profile")
@login_required
@operation(
    "Change name, avatar or preferences",
    tags=("User",),
    body=ProfileBody,
    responses={200: out.UserData},
)
def update_profile():
    body = parse_body(ProfileBody)
    changes = body.model_dump(exclude_none=True)
    user = users.update_profile(g.user, changes)
    return ok({"user": profile(user)}, message="Profile updated")


@bp.put("/password")
@login_required
@operation(
    "Change your password (older tokens stop working)",
    tags=("User",),
    body=PasswordBody,
    responses={200: out.SignedIn},
    errors=(403,),
    description="400 also for a new password too easy to guess; a wrong current password is "
    "400 WRONG_PASSWORD (the session stays); a Google-only account setting its first password "
    "needs a sign-in younger than `FRESH_SIGN_IN_SECONDS` (403, `details.reason` "
    "FRESH_SIGN_IN_REQUIRED). The answer carries a new token.",
)
def change_password():
    body = parse_body(PasswordBody)
    first = not g.user.password
    if first:  # a Google-only account: no password to confirm, so a recent sign-in
        require_fresh_sign_in(
            "Setting a first password needs a recent sign-in: sign in with Google again, "
            "then set it within a few minutes."
        )
    user = users.change_password(g.user, body.currentPassword, body.newPassword)
    deliver_soon(notices.password_changed(user, "set" if first else "changed"))
    # Every older token stops working; the caller gets a new one (not fresh: no sign-in).
    return ok({"user": profile(user), "token": issue_token(user)}, message="Password changed")


@bp.put("/email")
@limiter.limit(resend_limit, key_func=user_or_ip)
@login_required
@operation(
    "Change your address: a link is mailed to the new one",
    description="Needs a confirmed address (403 EMAIL_NOT_VERIFIED) and the password (400 "
    "WRONG_PASSWORD); a Google-only account needs a recent sign-in instead (403 "
    "FRESH_SIGN_IN_REQUIRED). The account keeps its address until the link in the mail to "
    "the new one is opened (`POST /api/auth/confirm-email`); then the old address is told. "
    "409 when another account has the new address.",
    tags=("User",),
    body=EmailChangeBody,
    responses={202: EmailChangeAccepted},
    errors=(400, 401, 403, 409, 429),
)
def change_email():
    body = parse_body(EmailChangeBody)
    if not g.user.password:
        require_fresh_sign_in(
            "Changing the address of a Google account needs a recent sign-in: sign in with "
            "Google again, then change it within a few minutes."
        )
    deliver_soon(verification.request_change(g.user, body.newEmail, body.password))
    pending = users.normalise_email(body.newEmail)
    return ok(
        {"email": g.user.email, "pendingEmail": pending},
        202,
        f"We sent a link to {pending}. Your address changes when you open it.",
    )


@bp.post("/logout-all")
@login_required
@operation(
    "Sign out of every device (every token issued so far stops working)",
    tags=("User",),
    responses={200: out.Empty},
)
def logout_everywhere():
    """Sign out of every device, this one included: every token issued so far stops working.
    The owner is mailed a notice."""
    version = revocation.revoke_all(g.user.id)
    deliver_soon(notices.signed_out_everywhere(g.user, version))
    return ok({}, message="Signed out everywhere")


@bp.delete("")
@login_required
@operation(
    "Delete your account (its tokens are forfeited; payments and the ledger are kept)",
    tags=("User",),
    body=DeleteAccountBody,
    responses={200: None},
    errors=(409,),
    description="400 WRONG_PASSWORD for a wrong password (the session stays); 409 while "
    "answers are still running.",
)
def delete_account():
    body = parse_body(DeleteAccountBody)
    closing.delete_account(g.user, body.password)
    return ok({"deleted": True}, message="Account deleted")
