"""`/api/auth/*`: register, login, Google sign-in and linking, me, logout."""

from __future__ import annotations

from flask import Blueprint, g

from common.users import google, revocation
from common.users import service as users
from common.users.snapshot import profile
from web import api_models as out
from web.auth.schemas import GoogleBody, LoginBody, RegisterBody
from web.extensions import ip_only, limiter
from web.openapi import operation
from web.responses import ok
from web.security import current_claims, issue_token, login_required, revoke
from web.settings import current_settings
from web.validation import parse_body

bp = Blueprint("auth", __name__, url_prefix="/api/auth")
TAGS = ("Auth",)


def _auth_limit() -> str:
    return current_settings().rate_limit_auth


def _signed_in(user, status: int = 200, message: str | None = None):
    return ok({"user": profile(user), "token": issue_token(user, fresh=True)}, status, message)


@bp.post("/register")
@limiter.limit(_auth_limit, key_func=ip_only)
@operation(
    "Create an account (10,000 free tokens)",
    tags=TAGS,
    auth=None,
    body=RegisterBody,
    responses={201: out.SignedIn},
    errors=(409,),
    description="400 also for a password too easy to guess (zxcvbn score below "
    "`PASSWORD_MIN_SCORE`); 409 for an email already registered.",
)
def register():
    body = parse_body(RegisterBody)
    user = users.register(body.email, body.password, body.name)
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
)
def google_link():
    """Connect Google to the signed-in account (a Google ID token for the account's email)."""
    body = parse_body(GoogleBody)
    claims = google.verify_id_token(body.idToken)
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
    """Every token of this user stops working, this one included."""
    revocation.revoke_all(g.user.id)
    return ok({}, message="Logged out everywhere")
