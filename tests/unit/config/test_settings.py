"""Settings: typed parsing, development defaults, and refusing to start badly configured."""

from __future__ import annotations

import pytest

from config.settings import DEFAULT_MONGODB_URI, DEV_JWT_SECRET, ConfigError, load_settings

STRONG = "k" * 48


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
    base = {"APP_ENV": "production", "MONGODB_URI": "mongodb://db:27017/aipasta"}
    for secret in ("short-secret", DEV_JWT_SECRET, ""):
        with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
            load_settings({**base, "JWT_SECRET_KEY": secret})


def test_production_refuses_a_missing_mongodb_uri():
    with pytest.raises(ConfigError, match="MONGODB_URI"):
        load_settings({"APP_ENV": "production", "JWT_SECRET_KEY": STRONG})


def test_production_starts_when_configured():
    s = load_settings(
        {
            "APP_ENV": "production",
            "MONGODB_URI": "mongodb://db:27017/aipasta",
            "JWT_SECRET_KEY": STRONG,
        }
    )
    assert s.is_production and s.jwt_secret_key == STRONG


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
