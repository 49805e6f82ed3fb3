"""`/api/auth/*`: register, login, Google sign-in and linking, me, logout."""

from __future__ import annotations

from flask import Blueprint, g

from common.users import google, revocation
from common.users import service as users
from common.users.snapshot import profile
from web.auth.schemas import GoogleBody, LoginBody, RegisterBody
from web.extensions import ip_only, limiter
from web.responses import ok
from web.security import current_claims, issue_token, login_required, revoke
from web.settings import current_settings
from web.validation import parse_body

bp = Blueprint("auth", __name__, url_prefix="/api/auth")


def _auth_limit() -> str:
    return current_settings().rate_limit_auth


def _signed_in(user, status: int = 200, message: str | None = None):
    return ok({"user": profile(user), "token": issue_token(user, fresh=True)}, status, message)


@bp.post("/register")
@limiter.limit(_auth_limit, key_func=ip_only)
def register():
    body = parse_body(RegisterBody)
    user = users.register(body.email, body.password, body.name)
    return _signed_in(user, 201, "User registered successfully")


@bp.post("/login")
@limiter.limit(_auth_limit, key_func=ip_only)
def login():
    body = parse_body(LoginBody)
    return _signed_in(users.authenticate(body.email, body.password))


@bp.post("/google")
@limiter.limit(_auth_limit, key_func=ip_only)
def google_sign_in():
    body = parse_body(GoogleBody)
    claims = google.verify_id_token(body.idToken)
    return _signed_in(users.sign_in_with_google(claims))


@bp.post("/google/link")
@limiter.limit(_auth_limit, key_func=ip_only)
@login_required
def google_link():
    """Connect Google to the signed-in account (a Google ID token for the account's email)."""
    body = parse_body(GoogleBody)
    claims = google.verify_id_token(body.idToken)
    user = users.link_google(g.user, claims)
    return ok({"user": profile(user)}, message="Google is connected to your account")


@bp.get("/me")
@login_required
def me():
    return ok({"user": profile(g.user)})


@bp.post("/logout")
@login_required
def logout():
    revoke(current_claims())
    return ok({}, message="Logged out")


@bp.post("/logout-all")
@login_required
def logout_everywhere():
    """Every token of this user stops working, this one included."""
    revocation.revoke_all(g.user.id)
    return ok({}, message="Logged out everywhere")
