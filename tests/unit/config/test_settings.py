"""Settings: typed parsing, development defaults, and refusing to start badly configured."""

from __future__ import annotations

from pathlib import Path

import pytest
from dotenv import dotenv_values

from config.settings import (
    DEFAULT_MONGODB_URI,
    DEV_JWT_SECRET,
    ConfigError,
    load_settings,
    secret_entropy_bits,
)

# A `secrets.token_urlsafe(32)`: what a production secret looks like.
STRONG = "fkWlG_GFmaWoVt9JxaNisKzQ8ZT79FVVw2Gq4ACQtzs"
PRODUCTION = {
    "APP_ENV": "production",
    "MONGODB_URI": "mongodb://db:27017/aipasta",
    "SMTP_HOST": "smtp.example.com",
    "EMAIL_FROM": "AI Pasta <no-reply@example.com>",
    "APP_BASE_URL": "https://aipasta.example.com",
}
ENV_EXAMPLE = Path(__file__).resolve().parents[3] / ".env.example"


def test_development_defaults_work_out_of_the_box():
    s = load_settings({})
    assert (s.app_env, s.is_production, s.port) == ("development", False, 5000)
    assert s.mongodb_uri == DEFAULT_MONGODB_URI
    assert s.redis_url == "redis://127.0.0.1:6379/0"
    assert s.jwt_secret_key == DEV_JWT_SECRET
    assert (s.free_tokens, s.max_tokens_per_request, s.model_cache_seconds) == (10_000, 4000, 900)
    assert s.broker_url == s.result_backend == s.redis_url


def test_values_are_typed():
    s = load_settings(
        {
            "PORT": "8080",
            "FREE_TOKENS": "500",
            "RATE_LIMIT_ENABLED": "no",
            "ALLOWED_ORIGINS": "https://a.example.com, https://b.example.com,",
            "PROVIDER_READ_TIMEOUT": "2.5",
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/9",
        }
    )
    assert (s.port, s.free_tokens, s.rate_limit_enabled) == (8080, 500, False)
    assert s.allowed_origins == ("https://a.example.com", "https://b.example.com")
    assert s.provider_read_timeout == 2.5
    assert s.broker_url == "redis://127.0.0.1:6379/9"
    assert s.result_backend == s.redis_url


def test_mongo_transactions_takes_auto_on_or_off():
    assert load_settings({}).mongo_transactions == "auto"
    assert load_settings({"MONGO_TRANSACTIONS": "on"}).mongo_transactions == "on"
    with pytest.raises(ConfigError, match="MONGO_TRANSACTIONS"):
        load_settings({"MONGO_TRANSACTIONS": "yes"})


@pytest.mark.parametrize(
    "name, value", [("PORT", "abc"), ("FREE_TOKENS", "1.5"), ("JWT_EXPIRES", "")]
)
def test_bad_numbers_stop_start_up_naming_the_variable(name, value):
    if value == "":
        assert load_settings({name: value}).jwt_expires == 7 * 24 * 3600  # empty = default
        return
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value})


def test_production_needs_mongodb_uri_and_a_strong_secret():
    with pytest.raises(ConfigError) as info:
        load_settings({"APP_ENV": "production"})
    message = str(info.value)
    assert "MONGODB_URI" in message and "JWT_SECRET_KEY" in message


def test_production_refuses_a_weak_or_default_secret():
    for secret in ("short-secret", DEV_JWT_SECRET, ""):
        with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
            load_settings({**PRODUCTION, "JWT_SECRET_KEY": secret})


def test_production_refuses_the_placeholder_secret_of_env_example():
    placeholder = dotenv_values(ENV_EXAMPLE)["JWT_SECRET_KEY"]
    assert len(placeholder) >= 32  # long enough: only knowing it is a placeholder refuses it
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY is a placeholder"):
        load_settings({**PRODUCTION, "JWT_SECRET_KEY": placeholder})
    with pytest.raises(ConfigError, match="placeholder"):  # whatever the case or padding
        load_settings({**PRODUCTION, "JWT_SECRET_KEY": placeholder.upper() + "-2026"})


@pytest.mark.parametrize(
    "secret, why",
    [
        ("k" * 48, "distinct characters"),
        ("ab" * 16, "distinct characters"),
        ("x" * 30 + "Q7m#pL2v9Z", "entropy"),  # 11 distinct characters, mostly one
        ("abcdefghijk" * 3 + "abc", "guessable"),  # a period of 11
        ("0123456789abcdef" * 2, "guessable"),  # a repetition of a 16-character block
        ("abcdefghijklmnopqrstuvwxyz012345", "guessable"),  # a sequence
        ("mysecretkeymysecretkey1234567890", "guessable"),  # words and a sequence
    ],
)
def test_production_refuses_low_entropy_secrets(secret, why):
    assert len(secret) >= 32
    with pytest.raises(ConfigError, match=f"JWT_SECRET_KEY .*{why}"):
        load_settings({**PRODUCTION, "JWT_SECRET_KEY": secret})


@pytest.mark.parametrize(
    "secret",
    [
        STRONG,
        "c4599eab08cf9c6a959b748437bf8c98",  # secrets.token_hex(16)
        "d0e99748fb58c6af040b0ffa6aa0c1affe222562a4935928ca810bc48bbad6f5",  # token_hex(32)
    ],
)
def test_production_accepts_random_secrets(secret):
    assert load_settings({**PRODUCTION, "JWT_SECRET_KEY": secret}).jwt_secret_key == secret


def test_secret_entropy_counts_characters_not_length():
    assert secret_entropy_bits("") == 0
    assert secret_entropy_bits("k" * 48) == 0
    assert secret_entropy_bits("ab" * 24) == 48
    assert secret_entropy_bits(STRONG) > 150


def test_production_refuses_a_missing_mongodb_uri():
    with pytest.raises(ConfigError, match="MONGODB_URI"):
        load_settings({"APP_ENV": "production", "JWT_SECRET_KEY": STRONG})


def test_production_starts_when_configured():
    s = load_settings({**PRODUCTION, "JWT_SECRET_KEY": STRONG})
    assert s.is_production and s.jwt_secret_key == STRONG
    assert (s.smtp_host, s.app_base_url) == ("smtp.example.com", "https://aipasta.example.com")


@pytest.mark.parametrize(
    ("missing", "says"),
    [
        ("SMTP_HOST", "SMTP_HOST must be set"),
        ("EMAIL_FROM", "EMAIL_FROM must be set"),
        ("APP_BASE_URL", "APP_BASE_URL must be set to the service's https://"),
    ],
)
def test_production_refuses_to_start_without_mail(missing, says):
    """Password reset and address confirmation need mail: production does not start without
    it (docs/account.md, "Mail")."""
    env = {**PRODUCTION, "JWT_SECRET_KEY": STRONG}
    del env[missing]
    with pytest.raises(ConfigError, match=says):
        load_settings(env)
    with pytest.raises(ConfigError, match="APP_BASE_URL"):
        load_settings({**env, missing: PRODUCTION[missing], "APP_BASE_URL": "http://x.example"})


def test_mail_settings_are_checked_everywhere():
    with pytest.raises(ConfigError, match="SMTP_SSL and SMTP_STARTTLS"):
        load_settings({"SMTP_HOST": "h", "SMTP_SSL": "true", "SMTP_STARTTLS": "true"})
    with pytest.raises(ConfigError, match="GST_PERCENT"):
        load_settings({"GST_PERCENT": "100"})
    with pytest.raises(ConfigError, match="RATE_LIMIT_FORGOT_EMAIL"):
        load_settings({"RATE_LIMIT_FORGOT_EMAIL": "three an hour"})
    s = load_settings({})
    assert (s.smtp_host, s.mail_dir, s.reset_link_seconds) == ("", "var/mail", 1800)


def test_with_overrides_returns_a_changed_copy():
    s = load_settings({})
    t = s.with_overrides(free_tokens=5)
    assert (s.free_tokens, t.free_tokens) == (10_000, 5)


def test_production_is_recognised_whatever_the_spelling():
    for env in ("Production", "PRODUCTION", "prod"):
        with pytest.raises(ConfigError):
            load_settings({"APP_ENV": env})


def test_pricing_settings_are_typed_with_documented_defaults():
    s = load_settings({})
    assert (s.token_value_inr, s.usd_inr, s.price_margin, s.free_model_rate) == (
        0.0005,
        85.0,
        0.25,
        1000,
    )
    s = load_settings({"TOKEN_VALUE_INR": "0.001", "USD_INR": "90", "PRICE_MARGIN": "-0.1"})
    assert (s.token_value_inr, s.usd_inr, s.price_margin) == (0.001, 90.0, -0.1)


@pytest.mark.parametrize(
    "env",
    [
        {"TOKEN_VALUE_INR": "0"},
        {"TOKEN_VALUE_INR": "-0.001"},
        {"TOKEN_VALUE_INR": "nan"},
        {"USD_INR": "0"},
        {"USD_INR": "inf"},
        {"PRICE_MARGIN": "-1"},
        {"FREE_MODEL_RATE": "-5"},
        {"OPENAI_COMPAT_PROMPT_PRICE": "-1"},
    ],
)
def test_pricing_settings_that_would_sell_below_cost_or_break_the_formula_refuse_to_start(env):
    with pytest.raises(ConfigError):
        load_settings(env)


@pytest.mark.parametrize("name", ["RATE_LIMIT_AUTH", "WS_FRAME_RATE", "RATE_LIMIT_HEALTH"])
def test_a_rate_limit_that_does_not_parse_stops_start_up(name):
    with pytest.raises(ConfigError, match=name):
        load_settings({name: "sixty a minute"})


def test_default_rate_limits_parse():
    s = load_settings({})
    assert (s.ws_frame_rate, s.rate_limit_health, s.trusted_proxy_count) == (
        "60/10 seconds",
        "300/minute",
        0,
    )
