"""Defects the API fuzzer (tests/integration/openai_api/test_api_fuzz.py) found, pinned here."""

from __future__ import annotations

from tests.support.http import auth


def test_analytics_with_a_far_past_date_is_a_validation_error(client, make_admin):
    _, token = make_admin()
    for query in ("to=0249-06-07", "from=0001-01-01&to=0001-01-02", "to=9999-12-31"):
        res = client.get(f"/api/admin/analytics?{query}", headers=auth(token))
        assert res.status_code == 400, (query, res.get_json())
        assert res.get_json()["code"] == "VALIDATION_ERROR"
