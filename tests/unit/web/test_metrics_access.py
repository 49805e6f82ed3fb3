"""Who may scrape `/metrics` (`common.metrics.allowed`); the endpoints themselves:
tests/service/web/test_observability.py."""

from __future__ import annotations


def test_without_a_token_only_loopback_addresses_may_scrape(settings):
    from common import metrics

    assert metrics.allowed(None, "127.0.0.1") == (True, 403)
    assert metrics.allowed(None, "::1") == (True, 403)
    assert metrics.allowed(None, "10.0.0.7")[0] is False
    assert metrics.allowed("Bearer anything", "10.0.0.7")[0] is False
