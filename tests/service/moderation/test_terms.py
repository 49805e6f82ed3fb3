"""Blocked terms: configured and runtime ones, matched case-insensitively on word edges."""

from __future__ import annotations

import pytest

from common.audit.models import AuditLog
from common.errors import ContentBlocked
from common.moderation import terms
from common.moderation.terms import check_blocked


def test_configured_terms_block_whole_words_in_any_case(settings_override):
    settings_override(blocked_terms=("badword", "very bad thing", "c++"))
    for text in ("a BADWORD here", "Badword!", "this is a Very  Bad\nThing", "I write C++ daily"):
        with pytest.raises(ContentBlocked) as caught:
            check_blocked(text)
        assert caught.value.status == 400 and caught.value.code == "CONTENT_BLOCKED"
    for text in ("badwords", "notbadword", "a very bad day", "C+ is a grade", ""):
        check_blocked(text)


def test_no_terms_blocks_nothing(settings):
    check_blocked("anything at all")


def test_admin_adds_and_removes_terms_at_runtime(client, admin):
    me, headers = admin
    check_blocked("spam offer")
    res = client.post(
        "/api/admin/moderation/blocked-terms", json={"term": "  Spam  Offer "}, headers=headers
    )
    assert res.status_code == 201, res.get_json()
    assert res.get_json()["data"]["term"] == "spam offer"
    with pytest.raises(ContentBlocked):
        check_blocked("Great SPAM OFFER inside")

    dup = client.post(
        "/api/admin/moderation/blocked-terms", json={"term": "spam offer"}, headers=headers
    )
    assert dup.status_code == 409
    listed = client.get("/api/admin/moderation/blocked-terms", headers=headers).get_json()["data"]
    assert listed["runtime"] == ["spam offer"]

    gone = client.delete("/api/admin/moderation/blocked-terms/spam offer", headers=headers)
    assert gone.status_code == 200
    check_blocked("Great SPAM OFFER inside")
    assert (
        client.delete("/api/admin/moderation/blocked-terms/spam offer", headers=headers).status_code
        == 404
    )

    actions = [(e.action, e.targetId, e.adminId) for e in AuditLog.objects.order_by("createdAt")]
    assert actions == [
        ("term.add", "spam offer", me["id"]),
        ("term.remove", "spam offer", me["id"]),
    ]


def test_configured_terms_are_listed_but_not_removable(client, admin, settings_override):
    settings_override(blocked_terms=("Fixed",))
    headers = admin[1]
    listed = client.get("/api/admin/moderation/blocked-terms", headers=headers).get_json()["data"]
    assert listed == {"configured": ["fixed"], "runtime": []}
    res = client.delete("/api/admin/moderation/blocked-terms/fixed", headers=headers)
    assert res.status_code == 400 and res.get_json()["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("body", [{}, {"term": ""}, {"term": "x" * 101}, {"term": ["a"]}])
def test_bad_terms_are_400(client, admin, body):
    res = client.post("/api/admin/moderation/blocked-terms", json=body, headers=admin[1])
    assert res.status_code == 400 and res.get_json()["code"] == "VALIDATION_ERROR"
    assert AuditLog.objects.count() == 0


def test_a_term_added_by_another_process_applies_within_a_second(settings):
    """Another web process's change: its document and version token, but not our cache."""
    import time

    from common.moderation.models import BlockedTerm
    from common.redis_client import get_redis

    terms.check_blocked("a perfectly fine sentence")  # compiled and cached here
    BlockedTerm(term="sentence", addedBy="elsewhere").save()
    get_redis().set(terms.VERSION_KEY, "changed-elsewhere")
    time.sleep(terms.VERSION_CHECK_SECONDS + 0.1)
    with pytest.raises(ContentBlocked):
        terms.check_blocked("a perfectly fine sentence")
