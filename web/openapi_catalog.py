"""The OpenAPI description of the `/api` routes defined before `web.openapi` existed.

Each entry names the endpoint and the same request models its view parses with, so the document
follows the validation; `tests/unit/web/test_openapi.py` fails if a route is left out.
"""

from __future__ import annotations

from web import api_models as out
from web.admin import schemas as admin
from web.auth.schemas import GoogleBody, LoginBody, RegisterBody
from web.chat.schemas import (
    MessagesPageQuery,
    PageQuery,
    ReportBody,
    SearchQuery,
    SendBody,
    SessionBody,
    SessionPatchBody,
)
from web.models.schemas import ModelListQuery
from web.openapi import describe
from web.plans.schemas import VerifyPaymentBody
from web.user.schemas import DeleteAccountBody, PasswordBody, PaymentsQuery, ProfileBody
from web.user.usage import ApiRequestsExportQuery, ApiRequestsQuery, LedgerQuery, UsageQuery

AUTH, USER, CHAT, MODELS, PLANS, ADMIN = "Auth", "User", "Chat", "Models", "Plans", "Admin"
ANY = {200: None}


def register() -> None:
    _auth()
    _chat()
    _models_and_plans()
    _admin()
    describe(
        "health.health",
        "Health of MongoDB, Redis, the broker and the workers",
        tags=("Health",),
        responses={200: out.Health},
        auth=None,
        envelope=False,
        errors=(503,),
    )


def _auth() -> None:
    ok = {"tags": (AUTH,), "auth": None, "errors": (400, 401, 409, 429, 503)}
    describe(
        "auth.register",
        "Create an account (10,000 free tokens)",
        body=RegisterBody,
        responses={201: out.SignedIn},
        **ok,
    )
    describe("auth.login", "Log in", body=LoginBody, responses={200: out.SignedIn}, **ok)
    describe(
        "auth.google_sign_in",
        "Sign in with a Google ID token",
        body=GoogleBody,
        responses={200: out.SignedIn, 201: out.SignedIn},
        **ok,
    )
    describe(
        "auth.google_link",
        "Connect Google to the signed-in account (an ID token for the account's email)",
        tags=(AUTH,),
        body=GoogleBody,
        responses={200: out.UserData},
        errors=(400, 401, 409, 429, 503),
    )
    describe(
        "auth.logout_everywhere",
        "Sign out of every device (every token issued so far stops working)",
        tags=(AUTH,),
        responses=ANY,
        errors=(401,),
    )
    describe(
        "auth.me", "The signed-in user", tags=(AUTH,), responses={200: out.UserData}, errors=(401,)
    )
    describe(
        "auth.logout",
        "Log out (this token stops working)",
        tags=(AUTH,),
        responses=ANY,
        errors=(401,),
    )
    describe(
        "user.logout_everywhere",
        "Sign out of every device (every token issued so far stops working)",
        tags=(USER,),
        responses=ANY,
        errors=(401,),
    )
    describe(
        "user.delete_account",
        "Delete your account (its tokens are forfeited; payments and the ledger are kept)",
        tags=(USER,),
        body=DeleteAccountBody,
        responses=ANY,
        errors=(400, 401),
    )
    describe(
        "user_usage.get_usage",
        "Your tokens and cost per day and per model over 7, 30 or 90 days",
        tags=(USER,),
        query=UsageQuery,
        responses=ANY,
        errors=(400,),
    )
    describe(
        "user_usage.get_api_requests",
        "Your OpenAI-compatible API requests' usage records, newest first (paginated; one key's "
        "with keyId)",
        tags=(USER,),
        query=ApiRequestsQuery,
        responses=ANY,
        errors=(400,),
    )
    describe(
        "user_usage.export_api_requests",
        "Your API usage records of the last 7, 30 or 90 days as CSV (one key's with keyId)",
        tags=(USER,),
        query=ApiRequestsExportQuery,
        responses=ANY,
        errors=(400,),
    )
    describe(
        "user_usage.get_ledger",
        "Your wallet's ledger, newest first (paginated)",
        tags=(USER,),
        query=LedgerQuery,
        responses=ANY,
        errors=(400,),
    )
    describe(
        "public_config.client_config",
        "Public client settings (Checkout and Google script URLs, Google client id)",
        tags=(USER,),
        responses=ANY,
        auth=None,
    )
    describe("user.get_profile", "Your profile", tags=(USER,), responses={200: out.UserData})
    describe(
        "user.update_profile",
        "Change name, avatar or preferences",
        tags=(USER,),
        body=ProfileBody,
        responses={200: out.UserData},
        errors=(400,),
    )
    describe(
        "user.change_password",
        "Change your password (older tokens stop working)",
        tags=(USER,),
        body=PasswordBody,
        responses={200: out.SignedIn},
        errors=(400, 401),
    )
    describe(
        "user_payments.list_payments",
        "Your payments",
        tags=(USER, PLANS),
        query=PaymentsQuery,
        responses=ANY,
        errors=(400,),
    )


def _chat() -> None:
    t = (CHAT,)
    describe(
        "chat.estimate",
        "What a send with this body would hold per model, and its likely charge (places nothing)",
        tags=t,
        body=SendBody,
        responses={200: out.SendEstimate},
        errors=(400, 404, 413, 503),
    )
    describe(
        "chat.send_message",
        "Send a message to one or several models",
        tags=t,
        body=SendBody,
        responses={202: out.SendAccepted, 200: out.SendAccepted},
        errors=(400, 402, 403, 404, 413, 429, 502, 503),
        description="The answers stream over the websocket (docs/websocket.md); "
        "`wait: true` answers once they are done.",
    )
    describe(
        "chat.create_session",
        "Create an empty session",
        tags=t,
        body=SessionBody,
        responses={201: out.SessionData},
        errors=(400,),
    )
    describe(
        "chat.list_sessions",
        "Your sessions, newest first",
        tags=t,
        query=PageQuery,
        responses={200: out.SessionList},
        errors=(400,),
    )
    describe(
        "chat.get_session",
        "One session and a page of its messages",
        tags=t,
        query=MessagesPageQuery,
        responses={200: out.SessionMessages},
        errors=(400, 404),
    )
    describe(
        "chat.patch_session",
        "Rename a session, or pin / unpin it (pinned sessions list first)",
        tags=t,
        body=SessionPatchBody,
        responses={200: out.SessionData},
        errors=(400, 404),
    )
    describe(
        "chat.search_sessions",
        "Search your sessions' titles and message text (paginated)",
        tags=t,
        query=SearchQuery,
        responses=ANY,
        errors=(400,),
    )
    describe(
        "chat.limits",
        "The server's limits a client shows (models per send, max tokens, message size)",
        tags=t,
        responses=ANY,
    )
    describe(
        "chat.delete_session",
        "Delete a session and its messages",
        tags=t,
        responses=ANY,
        errors=(404,),
    )
    describe(
        "chat.get_message", "One message", tags=t, responses={200: out.MessageData}, errors=(404,)
    )
    describe(
        "chat.cancel",
        "Stop an answer (charged for what was generated)",
        tags=t,
        responses={200: out.MessageData},
        errors=(404,),
    )
    describe(
        "chat_reports.report",
        "Report a message to the moderators",
        tags=t,
        body=ReportBody,
        body_required=False,
        responses={200: None, 201: None},
        errors=(400, 404),
    )


def _models_and_plans() -> None:
    describe(
        "models.list_models",
        "The model catalog",
        tags=(MODELS,),
        query=ModelListQuery,
        responses={200: out.ModelList},
        errors=(400,),
    )
    describe(
        "models.default_model",
        "The default model",
        tags=(MODELS,),
        responses={200: out.OneModel},
        errors=(404,),
    )
    describe(
        "models.get_model",
        "One model by id (ids contain slashes)",
        tags=(MODELS,),
        responses={200: out.OneModel},
        errors=(404,),
    )
    describe(
        "plans.list_plans",
        "The plans on sale",
        tags=(PLANS,),
        auth=None,
        responses={200: out.PlanList},
    )
    describe(
        "plans.create_order",
        "Start buying a plan (a Razorpay order)",
        tags=(PLANS,),
        responses={201: None},
        errors=(400, 404, 409, 502, 503),
    )
    describe(
        "plans.verify_payment",
        "Confirm a Razorpay payment",
        tags=(PLANS,),
        body=VerifyPaymentBody,
        responses=ANY,
        errors=(400, 404, 409),
    )
    describe(
        "plans.webhook",
        "Razorpay's webhook (signed with the webhook secret)",
        tags=(PLANS,),
        auth=None,
        responses=ANY,
        errors=(400, 503),
    )


def _admin() -> None:
    t, e = (ADMIN,), (400, 401, 403, 404)
    describe(
        "admin.list_users", "Find users", tags=t, query=admin.UserListQuery, responses=ANY, errors=e
    )
    describe("admin.get_user", "One user in detail", tags=t, responses=ANY, errors=e)
    describe("admin.activate", "Activate a user", tags=t, responses=ANY, errors=e)
    describe(
        "admin.deactivate",
        "Deactivate a user",
        tags=t,
        body=admin.DeactivateBody,
        body_required=False,
        responses=ANY,
        errors=e,
    )
    describe("admin.ban", "Ban a user", tags=t, body=admin.BanBody, responses=ANY, errors=e)
    describe(
        "admin.change_role",
        "Change a user's role",
        tags=t,
        body=admin.RoleBody,
        responses=ANY,
        errors=e,
    )
    for action in ("grant", "deduct"):
        describe(
            f"admin.{action}_tokens",
            f"{action.title()} tokens (idempotent by key)",
            tags=t,
            body=admin.TokensBody,
            responses={200: None, 201: None},
            errors=(*e, 409),
        )
    describe(
        "admin.reset_tokens",
        "Top the free tokens back up",
        tags=t,
        body=admin.ResetBody,
        body_required=False,
        responses=ANY,
        errors=e,
    )
    describe(
        "admin.analytics",
        "Usage and revenue figures",
        tags=t,
        query=admin.AnalyticsQuery,
        responses=ANY,
        errors=e,
    )
    describe(
        "admin.audit_log",
        "The audit log (filters: action, target, admin, UTC days `from`..`to`)",
        tags=t,
        query=admin.AuditQuery,
        responses=ANY,
        errors=e,
    )
    describe(
        "admin.flagged",
        "Flagged messages and sessions",
        tags=t,
        query=admin.FlaggedQuery,
        responses=ANY,
        errors=e,
    )
    for name, what, body in (("flag", "Flag", admin.FlagBody), ("hide", "Hide", admin.HideBody)):
        describe(
            f"admin.{name}",
            f"{what} a message or session",
            tags=t,
            body=body,
            body_required=False,
            responses=ANY,
            errors=e,
        )
    describe(
        "admin.message_context",
        "A message in context: `around` messages before and after it in its session",
        tags=t,
        query=admin.ContextQuery,
        responses=ANY,
        errors=e,
    )
    describe("admin.dismiss", "Dismiss a flag", tags=t, responses=ANY, errors=e)
    describe(
        "admin.remove", "Remove a message's or session's content", tags=t, responses=ANY, errors=e
    )
    describe("admin.blocked_terms", "The blocked terms", tags=t, responses=ANY, errors=e)
    describe(
        "admin.add_blocked_term",
        "Block a term",
        tags=t,
        body=admin.TermBody,
        responses={201: None, 200: None},
        errors=(*e, 409),
    )
    describe("admin.remove_blocked_term", "Unblock a term", tags=t, responses=ANY, errors=e)
