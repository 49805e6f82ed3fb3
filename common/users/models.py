"""The user document, with the guide's fields and indexes, plus the wallet's holds."""

from __future__ import annotations

from mongoengine import (
    BooleanField,
    DateTimeField,
    DictField,
    Document,
    EmailField,
    EmbeddedDocument,
    EmbeddedDocumentField,
    FloatField,
    IntField,
    ListField,
    StringField,
)

from common.stored import utcnow

ROLES = ("user", "admin")
PLANS = ("free", "pro", "enterprise")
THEMES = ("light", "dark", "auto")
# What moved `tokenVersion` (every older token stops working); see web.security.
SIGN_OUT_REASONS = ("password_changed", "password_reset", "signed_out_everywhere", "closed")

# Limits of each subscription plan; payments may override `requestsPerDay` per purchase.
# `tokensPerMonth` is always None: there is no monthly token cap — the wallet is the limit on
# tokens (a cap would make a token pack bought on the free plan unusable past it). The key stays
# because DESIGN.md's snapshot and plan shapes carry it (docs/account.md, "Limits").
PLAN_LIMITS = {
    "free": {"requestsPerDay": 50, "tokensPerMonth": None},
    "pro": {"requestsPerDay": 1_000, "tokensPerMonth": None},
    "enterprise": {"requestsPerDay": 10_000, "tokensPerMonth": None},
}


class Preferences(EmbeddedDocument):
    theme = StringField(choices=THEMES, default="auto")
    defaultModels = ListField(StringField(), default=list)  # noqa: N815 (guide's field names)
    language = StringField(default="en", max_length=16)
    temperature = FloatField(min_value=0, max_value=2)  # the composer's default, when set
    maxTokens = IntField(min_value=1)  # noqa: N815  the composer's default, when set


class Usage(EmbeddedDocument):
    totalRequests = IntField(default=0)  # noqa: N815
    totalTokens = IntField(default=0)  # noqa: N815
    totalCost = FloatField(default=0.0)  # noqa: N815
    # Per API key id: {spent, requests}, counted with each answer's hold-closing update.
    apiKeys = DictField(default=None)  # noqa: N815


class Tokens(EmbeddedDocument):
    """`balance` = spendable tokens = freeTokens + purchasedTokens; held tokens sit in `reserved`."""

    balance = IntField(default=0)
    freeTokens = IntField(default=0)  # noqa: N815
    purchasedTokens = IntField(default=0)  # noqa: N815
    usedTokens = IntField(default=0)  # noqa: N815
    reserved = IntField(default=0)
    lastResetDate = DateTimeField(default=utcnow)  # noqa: N815


class Limits(EmbeddedDocument):
    requestsPerDay = IntField(default=PLAN_LIMITS["free"]["requestsPerDay"])  # noqa: N815
    tokensPerMonth = IntField()  # noqa: N815  no longer used (see PLAN_LIMITS); old documents have it


class Subscription(EmbeddedDocument):
    plan = StringField(choices=PLANS, default="free")
    expiresAt = DateTimeField()  # noqa: N815
    limits = EmbeddedDocumentField(Limits, default=Limits)
    # Written by common.payments.subscriptions: a revision for optimistic updates, and the
    # recent orders already applied (its exactly-once marker).
    rev = IntField(default=0)
    orders = ListField(StringField(), default=list)


class User(Document):
    email = EmailField(required=True, unique=True)
    password = StringField()  # bcrypt hash; empty for Google-only accounts
    passwordChangedAt = DateTimeField()  # noqa: N815
    # Bumped on password change; tokens carry it as `tv`, and an older one is refused.
    tokenVersion = IntField(default=0)  # noqa: N815
    # Why `tokenVersion` last moved (SIGN_OUT_REASONS): a tab signed out by it is told why.
    signOutReason = StringField()  # noqa: N815
    # Logged-out tokens still unexpired: {jti: expiry (epoch seconds)} (common.users.revocation).
    revokedTokens = DictField(default=dict)  # noqa: N815
    # The address was proved: a link mailed to it was opened, or Google vouched for it
    # (common.accounts.verification; docs/account.md "Verified addresses").
    emailVerified = BooleanField(default=False)  # noqa: N815
    emailVerifiedAt = DateTimeField()  # noqa: N815
    googleId = StringField()  # noqa: N815
    name = StringField(required=True, max_length=100)
    avatar = StringField()
    role = StringField(choices=ROLES, default="user")
    isActive = BooleanField(default=True)  # noqa: N815
    deactivatedReason = StringField()  # noqa: N815
    preferences = EmbeddedDocumentField(Preferences, default=Preferences)
    usage = EmbeddedDocumentField(Usage, default=Usage)
    tokens = EmbeddedDocumentField(Tokens, default=Tokens)
    credits = IntField(default=0)  # legacy mirror of tokens.balance
    # +1 in the same update as every write of the wallet fields (tokens, credits, holds), so a
    # client can tell the newer of two snapshots (see common.wallet.service.VERSION_INC).
    walletVersion = IntField(default=0)  # noqa: N815
    subscription = EmbeddedDocumentField(Subscription, default=Subscription)
    # Open wallet holds, keyed by idempotency key: {amount, free, purchased, at}.
    holds = DictField(default=dict)
    # Credits being applied, keyed by ledger key (see common.wallet.service.credit).
    applying = DictField(default=dict)
    createdAt = DateTimeField(default=utcnow)  # noqa: N815
    updatedAt = DateTimeField(default=utcnow)  # noqa: N815

    meta = {
        "collection": "users",
        "indexes": [
            {"fields": ["email"], "unique": True},
            {"fields": ["role", "isActive"]},
            {"fields": ["googleId"], "sparse": True},
            {"fields": ["subscription.plan", "subscription.expiresAt"]},
            {"fields": ["tokens.reserved"]},  # wallet.open_holds: users with open holds
        ],
    }
