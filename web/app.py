"""The app factory."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask_talisman import Talisman
from werkzeug.middleware.proxy_fix import ProxyFix

from common import db
from common.celery_init import init_celery
from config import Settings, get_settings
from config.logging import configure_logging
from web.errors import register_error_handlers
from web.extensions import cors, init_limiter, sock
from web.observability import init_observability
from web.rate_headers import init_rate_headers
from web.security import content_security_policy, init_jwt
from web.validation import BoundedJSONProvider


def create_app(settings: Settings | None = None) -> Flask:
    """The app for `settings` (default: the process's), which it keeps in `config["SETTINGS"]`.

    A second app built with other settings leaves this one's JWT, CORS, CSP and Celery alone.
    Process-wide stay: the settings `common/` reads (`config.get_settings`, which this does not
    change), the MongoDB connection, logging, and the rate limiter's storage (`init_limiter`).
    """
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_format)
    app = Flask(__name__, static_folder="static", static_url_path="/static")
    app.json = BoundedJSONProvider(app)
    if settings.trusted_proxy_count:
        # The client address (rate limits, audit) is the one the last N proxies saw, read from
        # X-Forwarded-For; without trusted proxies that header is ignored (a client could forge it).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxy_count)
    app.config.update(
        SETTINGS=settings,
        JSON_SORT_KEYS=False,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        JWT_SECRET_KEY=settings.jwt_secret_key,
        JWT_ALGORITHM="HS256",
        JWT_DECODE_ALGORITHMS=["HS256"],
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(seconds=settings.jwt_expires),
        JWT_TOKEN_LOCATION=["headers"],
        # A larger frame closes the socket (1009) while it arrives, before it is buffered whole.
        SOCK_SERVER_OPTIONS={"ping_interval": 25, "max_message_size": settings.ws_max_frame_bytes},
    )
    init_observability(app)  # first, so even a rate-limited request gets its id
    db.connect(settings.mongodb_uri)
    app.extensions["celery"] = init_celery(settings)
    init_jwt(app)
    init_limiter(app, settings)
    sock.init_app(app)
    cors.init_app(
        app,
        resources={r"/api/*": {"origins": list(settings.allowed_origins)}},
        expose_headers=[
            "Retry-After",
            "X-RateLimit-Limit",
            "X-RateLimit-Remaining",
            "X-RateLimit-Reset",
        ],
    )
    # One per app: Talisman keeps its options (the CSP, the cookie flag) on the instance.
    Talisman(
        app,
        force_https=False,  # TLS ends at the load balancer
        content_security_policy=content_security_policy(settings),
        session_cookie_secure=settings.is_production,
    )
    register_error_handlers(app)
    init_rate_headers(app)
    _register_blueprints(app)
    from web.cli import register_cli

    register_cli(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from web.admin.routes import bp as admin_bp
    from web.apikeys.routes import admin_bp as admin_apikeys_bp
    from web.apikeys.routes import bp as apikeys_bp
    from web.auth.routes import bp as auth_bp
    from web.chat.reports import bp as chat_reports_bp
    from web.chat.routes import bp as chat_bp
    from web.health import bp as health_bp
    from web.models.routes import bp as models_bp
    from web.openai.routes import bp as openai_bp
    from web.openapi_routes import bp as openapi_bp
    from web.pages import bp as pages_bp
    from web.plans.routes import bp as plans_bp
    from web.public_config import bp as public_config_bp
    from web.user.payments import bp as user_payments_bp
    from web.user.routes import bp as user_bp
    from web.user.usage import bp as user_usage_bp
    from web.ws import register_websocket

    for bp in (pages_bp, health_bp, auth_bp, user_bp, chat_bp, models_bp, plans_bp, admin_bp):
        app.register_blueprint(bp)
    app.register_blueprint(chat_reports_bp)
    app.register_blueprint(user_payments_bp)
    for bp in (apikeys_bp, admin_apikeys_bp, openai_bp, openapi_bp):
        app.register_blueprint(bp)
    app.register_blueprint(public_config_bp)
    app.register_blueprint(user_usage_bp)
    register_websocket(app)
