"""A second Flask app with changed settings, for tests of start-up-time settings."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from flask import Flask

from config import Settings


@contextlib.contextmanager
def fresh_app(base: Settings, **overrides) -> Iterator[Flask]:
    """`create_app(base.with_overrides(...))`; the session's settings come back afterwards.

    `create_app` makes its settings the process-wide ones and re-binds the shared extensions
    (limiter storage and switch, JWT callbacks); on exit they are bound back to `base`.
    """
    from web import create_app

    try:
        app = create_app(base.with_overrides(**overrides))
        app.config.update(TESTING=True)
        yield app
    finally:
        # Building an app with the session's settings binds the shared extensions (the
        # limiter's Redis storage above all) back to them.
        create_app(base)
