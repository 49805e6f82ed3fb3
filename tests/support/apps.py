"""A second Flask app with changed settings, for tests of start-up-time settings."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from flask import Flask

from config import Settings, use_settings


@contextlib.contextmanager
def fresh_app(base: Settings, **overrides) -> Iterator[Flask]:
    """`create_app(base.with_overrides(...))`, whose settings are also the process's inside the
    block (what `common/` reads: Redis, MongoDB). The session's app keeps its own settings;
    only the rate limiter's storage, which flask-limiter keeps process-wide, is bound back."""
    from web import create_app
    from web.extensions import init_limiter

    settings = use_settings(base.with_overrides(**overrides))
    try:
        app = create_app(settings)
        app.config.update(TESTING=True)
        yield app
    finally:
        use_settings(base)
        init_limiter(Flask(__name__), base)
