"""Near misses of the security review: the client address behind trusted proxies, `/health`'s
cached checks and rate limit, and a CSP that allows connections to this origin only."""

from __future__ import annotations

import re
import time

from common import db
from tests.support.apps import fresh_app

CREDS = {"email": "nobody@example.com", "password": "whatever-123"}


def login(client, forwarded_for: str | None = None, peer: str = "10.9.9.9"):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post(
        "/api/auth/login", json=CREDS, headers=headers, environ_base={"REMOTE_ADDR": peer}
    )


def test_without_trusted_proxies_x_forwarded_for_is_ignored(base_settings):
    """A client cannot forge itself a fresh budget: the peer address is the key."""
    with fresh_app(base_settings, rate_limit_auth="3/minute", trusted_proxy_count=0) as app:
        client = app.test_client()
        for n in range(3):
            assert login(client, f"203.0.113.{n}").status_code == 401
        assert login(client, "203.0.113.99").status_code == 429


def test_behind_one_trusted_proxy_each_client_has_its_own_budget(base_settings):
    """Behind a load balancer every request comes from its address; the limiter keys on the
    client address it appended to X-Forwarded-For, and ignores what the client put before it."""
    with fresh_app(base_settings, rate_limit_auth="3/minute", trusted_proxy_count=1) as app:
        client = app.test_client()
        for _ in range(3):
            assert login(client, "198.51.100.7").status_code == 401
        assert login(client, "198.51.100.7").status_code == 429
        # Another client behind the same balancer is not blocked.
        assert login(client, "198.51.100.8").status_code == 401
        # A value forged before the proxy's own entry changes nothing.
        assert login(client, "1.2.3.4, 198.51.100.7").status_code == 429


def test_health_runs_its_checks_once_for_a_burst(base_settings, monkeypatch):
    pings = []
    real_ping = db.ping
    monkeypatch.setattr(db, "ping", lambda: pings.append(1) or real_ping())
    with fresh_app(base_settings, health_cache_seconds=2.0) as app:
        client = app.test_client()
        started = time.monotonic()
        codes = [client.get("/health").status_code for _ in range(20)]
        elapsed = time.monotonic() - started
    # No worker runs here: 503 naming it, twenty times, from one round of checks.
    assert codes == [503] * 20
    assert len(pings) == 1
    assert elapsed < 6.0, elapsed  # one round costs about 1 s (the worker ping's wait)


def test_health_checks_again_once_the_cache_is_old(base_settings, monkeypatch):
    pings = []
    monkeypatch.setattr(db, "ping", lambda: pings.append(1) or {})
    with fresh_app(base_settings, health_cache_seconds=0.0) as app:
        client = app.test_client()
        client.get("/health")
        client.get("/health")
    assert len(pings) == 2


def test_health_is_rate_limited_per_address(base_settings):
    with fresh_app(base_settings, rate_limit_health="5/minute") as app:
        client = app.test_client()
        for _ in range(5):
            assert client.get("/health").status_code == 503  # no worker in unit tests
        res = client.get("/health")
        body = res.get_json()
        assert (res.status_code, body["code"]) == (429, "RATE_LIMITED"), body
        assert 1 <= int(res.headers["Retry-After"]) <= 60
        other = client.get("/health", environ_base={"REMOTE_ADDR": "10.1.2.3"})
        assert other.status_code == 503


def test_csp_allows_connections_to_this_origin_only(client):
    csp = client.get("/").headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";") if part.strip())
    # Our own origin (which covers this host's ws/wss) and the https origins Razorpay Checkout
    # needs; never a scheme-wide source such as `ws:`/`wss:`/`https:` or a wildcard.
    sources = directives["connect-src"].split()
    assert sources[0] == "'self'", csp
    assert all(re.fullmatch(r"https://[a-z0-9.-]+", s) for s in sources[1:]), csp
    assert set(sources[1:]) <= {"https://checkout.razorpay.com", "https://api.razorpay.com"}, csp
