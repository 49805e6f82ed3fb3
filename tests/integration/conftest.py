"""Integration tests: the service as real processes (gunicorn, Celery workers, nx-27017) on real
Redis; in-process code only to set up and check. Fixtures: tests/conftest.py, tests/support/."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _clean(clean_state):
    """Every test starts on empty collections and no `aipasta:*` Redis keys."""
