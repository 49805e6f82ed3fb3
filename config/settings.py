"""The one place that reads the environment.

Every other module asks `get_settings()` for a typed, frozen `Settings`. Development defaults work
out of the box; in production (`APP_ENV=production`) a missing `MONGODB_URI` or a missing or weak
`JWT_SECRET_KEY` stops start-up with a clear message.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

from dotenv import dotenv_values

DEV_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef"
DEFAULT_MONGODB_URI = "mongodb://127.0.0.1:27017/aipasta?directConnection=true"

# Secrets that were ever written down as examples: production refuses them whatever their length.
PLACEHOLDER_SECRETS = frozenset(
    {
        DEV_JWT_SECRET,
        "change-me-to-64-random-characters",  # .env.example
        "test-secret-0123456789abcdef0123456789abcdef",  # the test suite's
        "change-me",
        "changeme",
        "secret",
        "your-secret-key",
        "your-256-bit-secret",  # jwt.io's example
        "super-secret-key",
        "jwt-secret",
    }
)
PLACEHOLDER_WORDS = ("change-me", "changeme", "change_me", "replace-me", "your-secret", "example")
MIN_SECRET_CHARS = 32
MIN_SECRET_DISTINCT_CHARS = 10
# Shannon entropy of the characters times the length; random hex of 32 characters measures
# about 115 bits, a 48-character repetition of two characters 48.
MIN_SECRET_ENTROPY_BITS = 96
# zxcvbn's guesses (log10) for the secret: it sees repetitions, sequences and words that the
# character count misses ("abcdefghijklmnopqrstuvwxyz012345"); 10^30 is about 100 bits.
MIN_SECRET_GUESSES_LOG10 = 30


class ConfigError(RuntimeError):
    """The environment cannot run the service; the message says what to set."""


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


COMPAT_CAPABILITIES = ("tools", "json_object", "json_schema", "images")


@dataclass(frozen=True)
class Settings:
    app_env: str = "development"
    port: int = 5000
    log_level: str = "INFO"
    log_format: str = "text"  # text | json (one JSON object a line, with requestId / messageId)

    mongodb_uri: str = DEFAULT_MONGODB_URI
    # Settlement's transactions (`common.db.in_transaction`): "auto" uses them where the server's
    # `hello` reports a replica set or mongos; "on" forces them (tests run the production path
    # on nx-27017, which takes sessions and transactions but reports no replica set); "off".
    mongo_transactions: str = "auto"
    redis_url: str = "redis://127.0.0.1:6379/0"
    celery_broker_url: str = ""  # defaults to redis_url
    celery_result_backend: str = ""  # defaults to redis_url

    jwt_secret_key: str = DEV_JWT_SECRET
    jwt_expires: int = 7 * 24 * 3600  # seconds
    bcrypt_rounds: int = 12  # tests lower it: each round doubles the cost of a login

    free_tokens: int = 10_000
    max_tokens_per_request: int = 4000
    max_message_chars: int = 32_000
    max_body_bytes: int = 1_000_000
    model_cache_seconds: int = 900

    # Pricing (common/wallet/pricing.py, docs/chat.md "What an answer costs").
    token_value_inr: float = 0.0005  # one wallet token's worth: ₹1 = 2,000 tokens
    usd_inr: float = 85.0  # rupees per US dollar, to turn provider prices into rupees
    price_margin: float = 0.25  # added to the provider's cost on paid models
    free_model_rate: int = 1000  # wallet tokens per 1K tokens on a free model (both sides)
    openai_compat_prompt_price: float = 0.0  # USD per 1M tokens on OPENAI_COMPAT_BASE_URL
    openai_compat_completion_price: float = 0.0

    allowed_origins: tuple[str, ...] = ("http://localhost:3000", "http://localhost:5000")
    rate_limit_auth: str = "20/minute"
    rate_limit_api: str = "600/minute"
    rate_limit_enabled: bool = True
    rate_limit_health: str = "300/minute"  # GET /health per client address
    health_cache_seconds: float = 2.0  # /health reuses its dependency checks this long
    # Proxies in front of the web tier that append to X-Forwarded-For (0: use the peer address).
    trusted_proxy_count: int = 0
    # How long gunicorn keeps an idle client connection open for its next request. Longer than
    # any load balancer's idle timeout in front (AWS ALB 60 s, nginx 60 s), so the balancer
    # always closes first: a server closing a pooled connection as the client reuses it drops
    # that request (docs/operations.md, "Keep-alive behind a proxy").
    web_keepalive_seconds: int = 75
    # A stream's deltas that arrive within this long of its last publish go to Redis together
    # (common/engine/publisher.py): at most one round trip per window; the first delta at once.
    stream_coalesce_ms: int = 50

    # Websocket: the largest frame read (bigger ones close the socket 1009 before they are
    # buffered) and the frames one socket may send (limits' syntax, moving window).
    ws_max_frame_bytes: int = 1_000_000
    ws_frame_rate: str = "60/10 seconds"
    # zxcvbn score (0-4) a new password needs; a Google-only account setting its first
    # password needs a sign-in at most this old.
    password_min_score: int = 3
    fresh_sign_in_seconds: int = 300

    openrouter_api_key: str = ""
    openrouter_base_url: str = "https://openrouter.ai/api/v1"
    huggingface_api_key: str = ""
    huggingface_base_url: str = "https://router.huggingface.co/v1"
    openai_compat_base_url: str = ""
    openai_compat_api_key: str = ""
    # What the models of OPENAI_COMPAT_BASE_URL take (its /models list does not say): any of
    # tools, json_object, json_schema, images. Nothing listed: plain text only.
    openai_compat_capabilities: tuple[str, ...] = ()
    app_url: str = "http://localhost:5000"
    app_title: str = "AI Pasta"
    provider_connect_timeout: float = 10.0
    provider_read_timeout: float = 60.0

    razorpay_key_id: str = ""
    razorpay_key_secret: str = ""
    razorpay_webhook_secret: str = ""
    razorpay_base_url: str = "https://api.razorpay.com/v1"
    # The browser loads Razorpay Checkout from here (the CSP allows its origin and its frame).
    razorpay_checkout_url: str = "https://checkout.razorpay.com/v1/checkout.js"

    google_client_id: str = ""
    google_jwks_url: str = "https://www.googleapis.com/oauth2/v3/certs"
    # Google Identity Services' script for the sign-in button (shown when GOOGLE_CLIENT_ID is set).
    google_gis_url: str = "https://accounts.google.com/gsi/client"

    blocked_terms: tuple[str, ...] = ()
    # A running answer's lease (its worker's heartbeat renews it every third of this): a dead
    # worker's answer is interrupted within about this plus a second or two (docs/chat.md).
    hold_lease_seconds: int = 6
    # A worker process silent this long (no beacon) is taken for dead even if its connection
    # looks open (a host gone without closing it); one merely starved of CPU is waited for.
    worker_stall_seconds: int = 60
    # A pending answer no worker claimed within this is enqueued again, at most
    # `pending_max_requeues` times; then it fails (SERVICE_UNAVAILABLE) and its hold is released.
    pending_requeue_seconds: int = 15
    pending_max_requeues: int = 3
    # How long a worker retries its own writes (settlement in MongoDB, frames in Redis) through
    # an outage before it leaves the rest to the reaper.
    outage_retry_seconds: int = 60
    # Deleting a session first cancels its running answers and waits this long for them to end
    # (charged for what was generated); answers still running after it make the delete a 409.
    delete_wait_seconds: float = 10.0
    stream_buffer_ttl: int = 3600
    # Sends one web process works on at once; the rest wait their turn in arrival order.
    send_concurrency: int = 8
    # A send repeated with the same key (Idempotency-Key, websocket requestId) within this many
    # seconds answers with the first one (docs/chat.md).
    idempotency_window_seconds: int = 24 * 3600
    # A repeat that finds the first send still storing its writes waits this long, then 409.
    idempotency_wait_seconds: float = 10.0
    # A send still incomplete after this long is taken as dead (its web process was killed):
    # a repeat undoes its writes and sends again (or enqueues a complete one's answers).
    idempotency_stale_seconds: float = 30.0

    # Operations (docs/operations.md). `/metrics` on the web tier: with a token, only requests
    # bearing it; without one, only loopback clients. The worker serves its own metrics on
    # `worker_metrics_port` (0: off), bound to `worker_metrics_bind`, with the same token rule.
    metrics_token: str = ""
    worker_metrics_port: int = 0
    worker_metrics_bind: str = "127.0.0.1"
    # prometheus_client's multiprocess directory (gunicorn's workers share it); read by the
    # library itself from PROMETHEUS_MULTIPROC_DIR, listed here so it is documented and checked.
    prometheus_multiproc_dir: str = ""
    # Worker warm shutdown (SIGTERM): answers in flight get this long to finish, then end
    # `interrupted` (hold released, client told).
    worker_drain_seconds: float = 30.0
    # `user:password` pairs for Flower (docker-compose starts it through `worker.flower`).
    flower_basic_auth: str = ""

    # Mail (docs/account.md). Sent by the workers from the outbox in MongoDB over SMTP; with no
    # `smtp_host` (development, `make run`) each mail is written to `mail_dir` as an .eml file and
    # its links are logged. Production refuses to start without SMTP_HOST, EMAIL_FROM and an
    # https APP_BASE_URL (the links in mail).
    email_from: str = "AI Pasta <no-reply@localhost>"
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_pass: str = ""
    smtp_starttls: bool = True  # upgrade the connection with STARTTLS (port 587)
    smtp_ssl: bool = False  # TLS from the first byte (port 465); not with STARTTLS
    smtp_timeout: float = 10.0
    app_base_url: str = "http://localhost:5000"
    mail_dir: str = "var/mail"
    # A mail the SMTP server did not take is tried again after base × 2^(attempt-1) seconds (at
    # most `mail_retry_max_seconds`), `mail_max_attempts` times in all; then it is `failed`.
    mail_retry_base_seconds: float = 30.0
    mail_retry_max_seconds: float = 3600.0
    mail_max_attempts: int = 10
    mail_sweep_seconds: float = 30.0  # beat's outbox sweep: mail whose task was lost
    # One-time links: a password reset works once within this; so does an address confirmation.
    reset_link_seconds: int = 30 * 60
    verify_link_seconds: int = 24 * 3600
    # Forgot-password requests per client address and per email address; verification resends
    # per user.
    rate_limit_forgot_ip: str = "10/hour"
    rate_limit_forgot_email: str = "3/hour"
    rate_limit_resend: str = "5/hour"
    # Receipts: the share of every price that is GST (prices include it; 0 leaves the line out)
    # and the seller's GSTIN, printed when set.
    gst_percent: float = 18.0
    gstin: str = ""

    @property
    def is_production(self) -> bool:
        return self.app_env.strip().lower() in ("production", "prod")

    @property
    def broker_url(self) -> str:
        return self.celery_broker_url or self.redis_url

    @property
    def result_backend(self) -> str:
        return self.celery_result_backend or self.redis_url

    @property
    def webhook_secret(self) -> str:
        """The guide falls back to the key secret when no webhook secret is set."""
        return self.razorpay_webhook_secret or self.razorpay_key_secret

    def with_overrides(self, **overrides) -> Settings:
        return replace(self, **overrides)


def _coerce(kind: type | str, raw: str):
    kind = kind if isinstance(kind, str) else kind.__name__
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "bool":
        return _bool(raw)
    if kind.startswith("tuple"):
        return _csv(raw)
    return raw


def _process_environment() -> dict[str, str]:
    """The process environment over the project's `.env` file, if there is one."""
    dotenv_file = Path(__file__).resolve().parents[1] / ".env"
    values = {k: v for k, v in dotenv_values(dotenv_file).items() if v is not None}
    return {**values, **os.environ}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Parse `environ` (default: the environment over `.env`) into `Settings` and validate it."""
    env = _process_environment() if environ is None else environ
    values = {}
    for f in fields(Settings):
        raw = env.get(f.name.upper())
        if raw is not None and raw != "":
            try:
                values[f.name] = _coerce(f.type, raw)
            except ValueError as exc:
                raise ConfigError(f"{f.name.upper()}={raw!r} is not a valid {f.type}") from exc
    settings = Settings(**values)
    _check_rate_limits(settings)
    _validate(settings, env)
    return settings


def _check_rate_limits(settings: Settings) -> None:
    """Rate limits are text in `limits`' syntax ("20/minute", "60/10 seconds"): a typo stops
    start-up here rather than failing the first request that needs the limit."""
    from limits import parse_many

    names = ("rate_limit_auth", "rate_limit_api", "rate_limit_health", "ws_frame_rate")
    names += ("rate_limit_forgot_ip", "rate_limit_forgot_email", "rate_limit_resend")
    for name in names:
        value = getattr(settings, name)
        try:
            parse_many(value)
        except ValueError:
            raise ConfigError(
                f'{name.upper()}={value!r} is not a rate limit (e.g. "20/minute")'
            ) from None


def _validate(settings: Settings, env: Mapping[str, str]) -> None:
    _validate_pricing(settings)
    if settings.log_format not in ("text", "json"):
        raise ConfigError(f"LOG_FORMAT={settings.log_format!r}: use text or json")
    if not 0 <= settings.stream_coalesce_ms <= 1000:
        raise ConfigError("STREAM_COALESCE_MS must be between 0 and 1000")
    if settings.web_keepalive_seconds < 1:
        raise ConfigError("WEB_KEEPALIVE_SECONDS must be at least 1")
    unknown = set(settings.openai_compat_capabilities) - set(COMPAT_CAPABILITIES)
    if unknown:
        raise ConfigError(
            f"OPENAI_COMPAT_CAPABILITIES: unknown {', '.join(sorted(unknown))}; "
            f"use any of {', '.join(COMPAT_CAPABILITIES)}"
        )
    if settings.mongo_transactions not in ("auto", "on", "off"):
        raise ConfigError(
            f"MONGO_TRANSACTIONS={settings.mongo_transactions!r}: use auto, on or off"
        )
    _validate_mail(settings)
    if not settings.is_production:
        return
    problems = _production_mail_problems(settings, env)
    if not env.get("MONGODB_URI"):
        problems.append("MONGODB_URI must be set in production")
    weakness = secret_weakness(settings.jwt_secret_key)
    if weakness:
        problems.append(
            f"JWT_SECRET_KEY {weakness}; set it to a random string of at least "
            f"{MIN_SECRET_CHARS} characters (e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))'`)"
        )
    if settings.trusted_proxy_count < 0:
        problems.append("TRUSTED_PROXY_COUNT must be 0 or more")
    if problems:
        raise ConfigError("Refusing to start: " + "; ".join(problems))


def _validate_mail(settings: Settings) -> None:
    problems = []
    if settings.smtp_ssl and settings.smtp_starttls and settings.smtp_host:
        problems.append("SMTP_SSL and SMTP_STARTTLS exclude each other; set one to false")
    if not 0 <= settings.gst_percent < 100:
        problems.append("GST_PERCENT must be from 0 to below 100")
    if settings.mail_max_attempts < 1 or settings.mail_retry_base_seconds <= 0:
        problems.append("MAIL_MAX_ATTEMPTS must be 1 or more and MAIL_RETRY_BASE_SECONDS above 0")
    if not settings.app_base_url.startswith(("http://", "https://")):
        problems.append(f"APP_BASE_URL={settings.app_base_url!r} must start with http(s)://")
    if problems:
        raise ConfigError("Refusing to start: " + "; ".join(problems))


def _production_mail_problems(settings: Settings, env: Mapping[str, str]) -> list[str]:
    """Production sends mail or does not start: password reset is the only way back into an
    account, and buying needs a confirmed address (docs/account.md, "Mail")."""
    problems = []
    if not settings.smtp_host:
        problems.append(
            "SMTP_HOST must be set in production (password reset and address "
            "confirmation send mail)"
        )
    if not env.get("EMAIL_FROM"):
        problems.append("EMAIL_FROM must be set in production")
    if not env.get("APP_BASE_URL", "").startswith("https://"):
        problems.append(
            "APP_BASE_URL must be set to the service's https:// address in "
            "production (links in mail)"
        )
    return problems


def _validate_pricing(settings: Settings) -> None:
    numbers = (settings.token_value_inr, settings.usd_inr, settings.price_margin)
    problems = [] if all(map(math.isfinite, numbers)) else ["pricing settings must be finite"]
    if not settings.token_value_inr > 0:
        problems.append("TOKEN_VALUE_INR must be above 0")
    if not settings.usd_inr > 0:
        problems.append("USD_INR must be above 0")
    if not settings.price_margin > -1:
        problems.append("PRICE_MARGIN must be above -1")
    if settings.free_model_rate < 0:
        problems.append("FREE_MODEL_RATE must not be negative")
    if min(settings.openai_compat_prompt_price, settings.openai_compat_completion_price) < 0:
        problems.append("OPENAI_COMPAT_*_PRICE must not be negative")
    if problems:
        raise ConfigError("Refusing to start: " + "; ".join(problems))


def secret_entropy_bits(secret: str) -> float:
    """Shannon entropy of the secret's characters times its length: an upper bound on how
    much randomness the string can hold (repetitions and small alphabets score low)."""
    if not secret:
        return 0.0
    counts = Counter(secret)
    per_char = -sum(n / len(secret) * math.log2(n / len(secret)) for n in counts.values())
    return per_char * len(secret)


def secret_weakness(secret: str) -> str | None:
    """Why `secret` must not sign production tokens, or None when it looks random enough."""
    lowered = secret.strip().lower()
    if lowered in PLACEHOLDER_SECRETS or any(word in lowered for word in PLACEHOLDER_WORDS):
        return "is a placeholder from an example"
    if len(secret) < MIN_SECRET_CHARS:
        return f"is shorter than {MIN_SECRET_CHARS} characters"
    if len(set(secret)) < MIN_SECRET_DISTINCT_CHARS:
        return f"uses fewer than {MIN_SECRET_DISTINCT_CHARS} distinct characters"
    if secret_entropy_bits(secret) < MIN_SECRET_ENTROPY_BITS:
        return "has too little entropy (repeated characters)"
    from zxcvbn import zxcvbn  # only production start-up pays for the import

    if zxcvbn(secret[:100])["guesses_log10"] < MIN_SECRET_GUESSES_LOG10:
        return "is guessable (a repetition, sequence or words)"
    return None


_current: Settings | None = None


def get_settings() -> Settings:
    """The process-wide settings, parsed from the environment on first use."""
    global _current
    if _current is None:
        _current = load_settings()
    return _current


def use_settings(settings: Settings) -> Settings:
    """Make `settings` the process-wide settings (tests and benchmarks call this; an app built by
    `create_app(settings)` keeps its own in `app.config["SETTINGS"]` and leaves these alone)."""
    global _current
    _current = settings
    return settings


def export_library_environment(settings: Settings) -> None:
    """Hand libraries that read the environment themselves what `.env` set for them.

    prometheus_client decides on import whether to keep its values in multiprocess files, from
    PROMETHEUS_MULTIPROC_DIR alone; a value that came from `.env` is copied into the process
    environment (and its directory made) before that import.
    """
    path = settings.prometheus_multiproc_dir
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") == "":
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]  # set but empty would turn the mode on
    if path:
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", path)
        Path(path).mkdir(parents=True, exist_ok=True)
