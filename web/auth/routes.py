"""`/api/auth/*`: register, login, Google sign-in and linking, me, logout, forgotten passwords,
address confirmation."""

from __future__ import annotations

from flask import Blueprint, g

from common.accounts import notices, recovery, verification
from common.users import google, revocation
from common.users import service as users
from common.users.snapshot import profile
from web import api_models as out
from web.auth.schemas import (
    Accepted,
    EmailState,
    ForgotPasswordBody,
    GoogleBody,
    LinkTokenBody,
    LoginBody,
    RegisterBody,
    ResetPasswordBody,
)
from web.extensions import ip_only, limiter, user_or_ip
from web.mail import deliver_soon, email_key, send_reset_link_later
from web.openapi import operation
from web.responses import ok
from web.security import current_claims, issue_token, login_required, revoke
from web.settings import current_settings
from web.validation import parse_body

bp = Blueprint("auth", __name__, url_prefix="/api/auth")
TAGS = ("Auth",)


def _auth_limit() -> str:
    return current_settings().rate_limit_auth


def _forgot_ip_limit() -> str:
    return current_settings().rate_limit_forgot_ip


def _forgot_email_limit() -> str:
    return current_settings().rate_limit_forgot_email


def resend_limit() -> str:
    return current_settings().rate_limit_resend


def _signed_in(user, status: int = 200, message: str | None = None):
    return ok({"user": profile(user), "token": issue_token(user, fresh=True)}, status, message)


@bp.post("/register")
@limiter.limit(_auth_limit, key_func=ip_only)
@operation(
    "Create an account (10,000 free tokens; a link to confirm the address is mailed)",
    tags=TAGS,
    auth=None,
    body=RegisterBody,
    responses={201: out.SignedIn},
    errors=(409,),
    description="400 also for a password too easy to guess (zxcvbn score below "
    "`PASSWORD_MIN_SCORE`); 409 for an email already registered.",
)
def register():
    """A new account, signed in at once; a link to confirm the address is mailed."""
    body = parse_body(RegisterBody)
    user = users.register(body.email, body.password, body.name)
    deliver_soon(verification.send_link(user))
    return _signed_in(user, 201, "User registered successfully")


@bp.post("/login")
@limiter.limit(_auth_limit, key_func=ip_only)
@operation(
    "Log in",
    tags=TAGS,
    auth=None,
    body=LoginBody,
    responses={200: out.SignedIn},
    errors=(401,),
    description="401 for a wrong email or password, or a deactivated account.",
)
def login():
    body = parse_body(LoginBody)
    return _signed_in(users.authenticate(body.email, body.password))


@bp.post("/google")
@limiter.limit(_auth_limit, key_func=ip_only)
@operation(
    "Sign in with a Google ID token (creates the account on first use)",
    tags=TAGS,
    auth=None,
    body=GoogleBody,
    responses={200: out.SignedIn},
    errors=(401, 409),
    description="401 for a token Google did not sign for this server; 409 when the email "
    "belongs to a password account not linked to Google; 503 when Google sign-in is not "
    "configured or Google's keys cannot be fetched.",
)
def google_sign_in():
    body = parse_body(GoogleBody)
    claims = google.verify_id_token(body.idToken)
    return _signed_in(users.sign_in_with_google(claims))


@bp.post("/google/link")
@limiter.limit(_auth_limit, key_func=ip_only)
@login_required
@operation(
    "Connect Google to the signed-in account (an ID token for the account's email)",
    tags=TAGS,
    body=GoogleBody,
    responses={200: out.UserData},
    errors=(409,),
    description="A Google token that is bad or for an unconfirmed address is 400 on "
    "`idToken` (401 is only ever about this session); 409 when Google's address is not the "
    "account's, or that Google account is linked to another.",
)
def google_link():
    """Connect Google to the signed-in account (a Google ID token for the account's email)."""
    body = parse_body(GoogleBody)
    claims = google.claims_for_link(body.idToken)
    user = users.link_google(g.user, claims)
    return ok({"user": profile(user)}, message="Google is connected to your account")


@bp.get("/me")
@login_required
@operation("The signed-in user", tags=TAGS, responses={200: out.UserData})
def me():
    return ok({"user": profile(g.user)})


@bp.post("/logout")
@login_required
@operation("Log out (this token stops working)", tags=TAGS, responses={200: out.Empty})
def logout():
    revoke(current_claims())
    return ok({}, message="Logged out")


@bp.post("/logout-all")
@login_required
@operation(
    "Sign out of every device (every token issued so far stops working)",
    tags=TAGS,
    responses={200: out.Empty},
)
def logout_everywhere():
    """Every token of this user stops working, this one included; the owner is mailed."""
    version = revocation.revoke_all(g.user.id)
    deliver_soon(notices.signed_out_everywhere(g.user, version))
    return ok({}, message="Logged out everywhere")


# -- forgotten passwords ----------------------------------------------------------------------


@bp.post("/forgot-password")
@limiter.limit(_forgot_ip_limit, key_func=ip_only)
@limiter.limit(_forgot_email_limit, key_func=email_key)
@operation(
    "Ask for a password reset link by mail",
    description="Answers 202 whether or not the address has an account, in the same time: "
    "a worker decides and mails a single-use link valid RESET_LINK_SECONDS (30 minutes). "
    "Rate limited per client address (RATE_LIMIT_FORGOT_IP) and per email address "
    "(RATE_LIMIT_FORGOT_EMAIL).",
    tags=TAGS,
    auth=None,
    body=ForgotPasswordBody,
    responses={202: Accepted},
    errors=(400, 429, 503),
)
def forgot_password():
    body = parse_body(ForgotPasswordBody)
    send_reset_link_later(users.normalise_email(body.email))
    return ok(
        {}, 202, "If an account uses this address, a link to reset its password is on its way."
    )


@bp.post("/reset-password")
@limiter.limit(_auth_limit, key_func=ip_only)
@operation(
    "Set a new password with a reset link; signs in",
    description="The token is the `#token=` part of the link in the mail; it works once. The "
    "password follows the sign-up rules. Every other session and token of the account stops "
    "working; the answer signs this client in. A used, expired or unknown link is 400 "
    "INVALID_LINK (`details.reason` USED, EXPIRED or INVALID).",
    tags=TAGS,
    auth=None,
    body=ResetPasswordBody,
    responses={200: out.SignedIn},
    errors=(400, 429),
)
def reset_password():
    body = parse_body(ResetPasswordBody)
    user = recovery.reset_password(body.token, body.password)
    deliver_soon(notices.password_changed(user, "reset"))
    return _signed_in(user, message="Your password was reset")


# -- confirming addresses ---------------------------------------------------------------------


@bp.post("/verify-email")
@limiter.limit(_auth_limit, key_func=ip_only)
@operation(
    "Confirm the account's address with the link mailed to it",
    description="No sign-in needed: the link may be opened on another device. 400 "
    "INVALID_LINK when used, expired or for an address the account no longer has.",
    tags=TAGS,
    auth=None,
    body=LinkTokenBody,
    responses={200: EmailState},
    errors=(400, 429),
)
def verify_email():
    user = verification.confirm(parse_body(LinkTokenBody).token)
    return ok({"email": user.email, "emailVerified": True}, message="Your address is confirmed")


@bp.post("/verify-email/resend")
@limiter.limit(resend_limit, key_func=user_or_ip)
@login_required
@operation(
    "Mail a new link to confirm your address",
    description="202 when a link was mailed; 200 with `emailVerified: true` when the address "
    "is confirmed already. Rate limited per user (RATE_LIMIT_RESEND).",
    tags=TAGS,
    responses={202: EmailState, 200: EmailState},
    errors=(401, 429),
)
def resend_verification():
    key = verification.send_link(g.user)
    state = {"email": g.user.email, "emailVerified": key is None}
    if key is None:
        return ok(state, message="Your address is confirmed already")
    deliver_soon(key)
    return ok(state, 202, f"We sent a new link to {g.user.email}.")


@bp.post("/confirm-email")
@limiter.limit(_auth_limit, key_func=ip_only)
@operation(
    "Confirm a change of address with the link mailed to the new address",
    description="The account moves to the new address (now confirmed) and the old address is "
    "told. No sign-in needed. 400 INVALID_LINK when used or expired; 409 when another account "
    "took the address meanwhile.",
    tags=TAGS,
    auth=None,
    body=LinkTokenBody,
    responses={200: EmailState},
    errors=(400, 409, 429),
)
def confirm_email():
    user, notice = verification.confirm_change(parse_body(LinkTokenBody).token)
    deliver_soon(notice)
    return ok({"email": user.email, "emailVerified": True}, message="Your address was changed")
