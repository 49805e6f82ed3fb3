"""Service tests: our code in this process against the real stores — nx-27017 and a private
Redis database — through the Flask test client or by calling `common/` directly, with the
network edge served by the local fakes (tests/fakes). No gunicorn, no Celery worker process:
those are tests/integration. Fixtures: tests/conftest.py, tests/support/."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _clean(clean_state):
    """Every test starts on empty collections and no `aipasta:*` Redis keys."""
