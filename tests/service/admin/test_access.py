"""Every admin route: no token → 401 UNAUTHORIZED, a user's token → 403 FORBIDDEN, nothing changed."""

from __future__ import annotations

import pytest
from flask import Flask

from common.audit.models import AuditLog
from tests.support.http import auth
from web.admin.routes import bp

# Fixed ids: the test ids are the same in every collection (pytest-xdist's workers compare them).
SAMPLE = {
    "user_id": "64b000000000000000000001",
    "item_id": "64b000000000000000000002",
    "kinds": "messages",
    "term": "x",
    "mail_id": "64b000000000000000000003",
}


def _admin_routes(app: Flask) -> list[tuple[str, str]]:
    adapter = app.url_map.bind("localhost")
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin."):
            continue
        url = adapter.build(rule.endpoint, {a: SAMPLE[a] for a in rule.arguments})
        routes += [(m, url) for m in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return sorted(routes)


def _blueprint_only() -> Flask:
    app = Flask("routes-only")
    app.register_blueprint(bp)
    return app


ROUTES = _admin_routes(_blueprint_only())


def test_the_list_covers_every_admin_route_of_the_app(app):
    assert _admin_routes(app) == ROUTES
    assert len(ROUTES) >= 19


@pytest.mark.parametrize(("method", "url"), ROUTES)
def test_no_token_is_401(client, method, url):
    res = client.open(url, method=method, json={})
    assert res.status_code == 401, res.get_json()
    assert res.get_json()["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize(("method", "url"), ROUTES)
def test_user_token_is_403(client, make_user, method, url):
    _, token = make_user()
    res = client.open(url, method=method, json={}, headers=auth(token))
    body = res.get_json()
    assert res.status_code == 403, body
    assert body["code"] == "FORBIDDEN" and body["status"] == "error"
    assert AuditLog.objects.count() == 0
