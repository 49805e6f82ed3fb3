"""schemathesis, driven by our own OpenAPI document, against the real stack (gunicorn, a Celery
worker, the fake provider, Razorpay and Google): every documented operation, every phase that
needs no links (explicit examples, coverage, fuzzing), every check the document can be held to.

- `not_a_server_error`: no 5xx at all (the stack's dependencies are up);
- `status_code_conformance`, `content_type_conformance`, `response_schema_conformance`: every
  answer is one the document lists, in its media type and shape;
- `negative_data_rejection`: a request the schema forbids is refused (4xx);
- `positive_data_acceptance`: a request the schema allows is not refused as invalid;
- `unsupported_method`: a method a path does not take is 405 with `Allow`.

Requests carry an admin's login token on `/api` (a fresh one for each request, as the fuzzer
logs out and changes the password) and its API key on `/v1`. A term the fuzzer blocks is
unblocked at once (it would refuse later messages). The only allowance: the few operations with
rules JSON Schema cannot state (`SEMANTIC_400`) may refuse schema-valid data with 400. Any other
finding fails the test, with the request and our answer.
"""

from __future__ import annotations

import pytest
import requests
import schemathesis
from schemathesis.engine import events, from_schema

from common.moderation import terms
from common.payments import plans as plan_service
from common.users.models import User
from common.wallet import service as wallet
from tests.fakes.google_jwks import FakeGoogle

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "unsupported_method",
)
BLOCK_TERM = "POST /api/admin/moderation/blocked-terms"
# Generated requests per operation in the fuzzing phase (the coverage phase adds its own): the
# whole run took 46-105 s on these 2-core machines (load average 1 to 10).
EXAMPLES = 8
# What a request the schema allows may be answered: a success, or a refusal that is not about its
# shape (credentials, balance, plan, a missing object, a conflict, a limit).
ACCEPTED = ["2xx", "401", "402", "403", "404", "409", "429"]

# Rules JSON Schema cannot state (they tie a field to another, to the clock or to stored data:
# passwords, one-time links, the catalog): a request the schema allows may still be refused
# with 400 here, as each description says.
SEMANTIC_400 = {
    "POST /api/auth/register": "a password too easy to guess (zxcvbn)",
    "PUT /api/user/password": "a new password too easy to guess (zxcvbn), or a wrong current "
    "one (`WRONG_PASSWORD`: 401 is only ever the end of the session)",
    "PUT /api/user/email": "a wrong password (`WRONG_PASSWORD`)",
    "DELETE /api/user": "a wrong password (`WRONG_PASSWORD`)",
    "POST /api/auth/google/link": "a Google ID token Google did not sign for us (400 on `idToken`)",
    "POST /api/auth/reset-password": "a link token that is used, expired or unknown "
    "(`INVALID_LINK`), or a new password too easy to guess",
    "POST /api/auth/verify-email": "a link token that is used, expired or unknown (`INVALID_LINK`)",
    "POST /api/auth/confirm-email": "a link token that is used, expired or unknown "
    "(`INVALID_LINK`)",
    "POST /api/user/api-keys": "`expiresAt` in the past, or a model not in the catalog",
    "GET /api/admin/analytics": "`from` after `to`, or a range longer than allowed",
    "GET /api/admin/audit": "`from` after `to`",
    "POST /api/chat": "`images` for a model whose catalog `capabilities.images` is false",
    "POST /v1/chat/completions": "`tools`, a `response_format` or an image part for a model "
    "whose catalog `capabilities` lack it, or a named `tool_choice` not among `tools`",
}


@pytest.fixture(scope="module")
def google():
    with FakeGoogle() as server:
        yield server


@pytest.fixture(scope="module")
def stack_settings(base_settings, fake, razorpay, google):
    return base_settings.with_overrides(
        openrouter_base_url=fake.base_url,
        razorpay_key_id=razorpay.key_id,
        razorpay_key_secret=razorpay.key_secret,
        razorpay_webhook_secret=razorpay.webhook_secret,
        razorpay_base_url=razorpay.base_url,
        google_client_id=google.client_id,
        google_jwks_url=google.jwks_url,
    )


@pytest.fixture
def admin_and_key(live, app, make_user, fake):
    """An admin with tokens to spend and no daily limit, and an API key of theirs."""
    fake.scenario("*", delta_count=3)
    plan_service.seed_defaults()
    info, token = make_user()
    # An admin whose plan counts no requests per day: the fuzzer sends hundreds.
    User.objects(id=info["id"]).update_one(
        set__role="admin", set__subscription__limits__requestsPerDay=0
    )
    wallet.credit(info["id"], 10_000_000, f"fuzz-{info['id']}", "admin")
    res = requests.post(
        live.base_url + "/api/user/api-keys",
        json={"name": "fuzz"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert res.status_code == 201, res.text
    return info["id"], res.json()["data"]["secret"]


# About 70 operations: past pytest's default 120 s on a loaded machine (load average 12).
@pytest.mark.timeout(360)
def test_every_operation_answers_as_documented(live, app, admin_and_key):
    user_id, secret = admin_and_key
    doc = requests.get(live.base_url + "/api/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(doc, config=_config(live.base_url))
    _authenticate(schema, app, user_id, secret)
    _unblock_what_it_blocks(schema)
    failures, answered = _run(schema)
    if failures:
        pytest.fail(f"{len(failures)} findings:\n\n" + "\n\n".join(failures), pytrace=False)
    assert set(answered) == {f"{m.upper()} {p}" for p, item in doc["paths"].items() for m in item}
    # The generated requests reach the answers, not only the refusals (the examples in the
    # document name a model of the catalog).
    for label, success in (
        ("POST /v1/chat/completions", 200),
        ("POST /v1/completions", 200),
        ("POST /api/chat", 202),
        ("POST /api/user/api-keys", 201),
    ):
        assert success in answered[label], (label, answered[label])


def _config(base_url: str) -> schemathesis.Config:
    positive_400 = [
        {
            "include-name": label,
            "checks": {
                "positive_data_acceptance": {
                    "enabled": True,
                    "expected-statuses": [*ACCEPTED, "400"],
                }
            },
        }
        for label in SEMANTIC_400
    ]
    return schemathesis.Config.from_dict(
        {
            "base-url": base_url,
            "seed": 1,
            "request-timeout": 60,
            "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
            "phases": {"stateful": {"enabled": False}},
            "checks": {
                "enabled": False,
                **{name: {"enabled": True} for name in CHECKS},
                # 413 is a refusal too: a message longer than `MAX_MESSAGE_CHARS`.
                "negative_data_rejection": {
                    "enabled": True,
                    "expected-statuses": ["400", "401", "403", "404", "413", "415", "429"],
                },
                "positive_data_acceptance": {"enabled": True, "expected-statuses": ACCEPTED},
            },
            "operations": positive_400,
        }
    )


def _authenticate(schema, app, user_id: str, secret: str) -> None:
    """A fresh login token for each `/api` request (the fuzzer logs out, signs out everywhere and
    changes the password), the API key on `/v1`."""
    from web.security import issue_token

    @schema.auth(refresh_interval=None)
    class _Auth:
        def get(self, case, ctx):
            schemes = {
                name for req in case.operation.definition.raw.get("security", []) for name in req
            }
            if "apiKeyAuth" in schemes:
                return secret
            if "bearerAuth" in schemes:
                with app.app_context():
                    return issue_token(User.objects.get(id=user_id))
            return None

        def set(self, case, data, ctx):
            if data is not None:
                case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


def _unblock_what_it_blocks(schema) -> None:
    """A term the fuzzer blocks (`"0"`) would refuse every later message that contains it."""

    @schema.hook
    def after_call(ctx, case, response):
        if case.operation.label == BLOCK_TERM and response.status_code == 201:
            terms.remove_term(response.json()["data"]["term"])


def _run(schema) -> tuple[list[str], dict[str, set[int]]]:
    """Every finding, with its request and our answer; the statuses each operation answered."""
    failures: list[str] = []
    answered: dict[str, set[int]] = {}
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.label:
            statuses = answered.setdefault(event.label, set())
            for interaction in event.recorder.interactions.values():
                if interaction.response is not None:
                    statuses.add(interaction.response.status_code)
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.failure_info is not None:
                        failures.append(_finding(event, case_id, check))
        elif isinstance(event, events.NonFatalError | events.FatalError):
            failures.append(f"error: {getattr(event, 'label', '')}: {event.info.format()}"[:3000])
    return failures, answered


def _finding(event, case_id: str, check) -> str:
    failure = check.failure_info.failure
    interaction = event.recorder.interactions.get(case_id)
    answer = ""
    if interaction is not None and interaction.response is not None:
        res = interaction.response
        answer = f"\n-> {res.status_code} {res.content[:400]!r}"
    return (
        f"{event.label} [{check.name}] {failure.title}\n{failure.message}\n"
        f"{check.failure_info.code_sample[:1500]}{answer}"
    )
