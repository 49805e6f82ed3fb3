"""The one place that reads the environment.

Every other module asks `get_settings()` for a typed, frozen `Settings`. Development defaults work
out of the box; in production (`APP_ENV=production`) a missing `MONGODB_URI` or a missing or weak
`JWT_SECRET_KEY` stops start-up with a clear message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from dotenv import dotenv_values

DEV_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef"
DEFAULT_MONGODB_URI = "mongodb://127.0.0.1:27017/aipasta?directConnection=true"


class ConfigError(RuntimeError):
    """The environment cannot run the service; the message says what to set."""


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    app_env: str = "development"
    port: int = 5000
    log_level: str = "INFO"

    mongodb_uri: str = DEFAULT_MONGODB_URI
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

    allowed_origins: tuple[str, ...] = ("http://localhost:3000", "http://localhost:5000")
    rate_limit_auth: str = "20/minute"
    rate_limit_api: str = "600/minute"
    rate_limit_enabled: bool = True

    openrouter_api_key: str = ""
    openrouter_base_url: str = "https://openrouter.ai/api/v1"
    huggingface_api_key: str = ""
    huggingface_base_url: str = "https://router.huggingface.co/v1"
    openai_compat_base_url: str = ""
    openai_compat_api_key: str = ""
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
    hold_lease_seconds: int = 30
    stream_buffer_ttl: int = 3600
    # Sends one web process works on at once; the rest wait their turn in arrival order.
    send_concurrency: int = 8

    extra: Mapping[str, str] = field(default_factory=dict)

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
        if f.name == "extra":
            continue
        raw = env.get(f.name.upper())
        if raw is not None and raw != "":
            try:
                values[f.name] = _coerce(f.type, raw)
            except ValueError as exc:
                raise ConfigError(f"{f.name.upper()}={raw!r} is not a valid {f.type}") from exc
    settings = Settings(**values)
    _validate(settings, env)
    return settings


def _validate(settings: Settings, env: Mapping[str, str]) -> None:
    if not settings.is_production:
        return
    problems = []
    if not env.get("MONGODB_URI"):
        problems.append("MONGODB_URI must be set in production")
    secret = settings.jwt_secret_key
    if secret == DEV_JWT_SECRET or len(secret) < 32:
        problems.append("JWT_SECRET_KEY must be set to a random string of at least 32 characters")
    if problems:
        raise ConfigError("Refusing to start: " + "; ".join(problems))


_current: Settings | None = None


def get_settings() -> Settings:
    """The process-wide settings, parsed from the environment on first use."""
    global _current
    if _current is None:
        _current = load_settings()
    return _current


def use_settings(settings: Settings) -> Settings:
    """Make `settings` the process-wide settings (the app factory and tests call this)."""
    global _current
    _current = settings
    return settings
