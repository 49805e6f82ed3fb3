"""`GET /api/admin/audit`: newest first, filters, pagination."""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId

from common.audit.models import AuditLog


def test_audit_lists_filters_and_paginates(client, admin, make_user):
    me, headers = admin
    user, _ = make_user()
    uid = user["id"]
    client.post(f"/api/admin/users/{uid}/deactivate", json={"reason": "a"}, headers=headers)
    client.post(f"/api/admin/users/{uid}/activate", headers=headers)
    client.post(
        f"/api/admin/users/{uid}/tokens/grant",
        json={"amount": 5, "reason": "gift"},
        headers=headers,
    )

    res = client.get("/api/admin/audit", headers=headers)
    data = res.get_json()["data"]
    assert res.status_code == 200
    assert [e["action"] for e in data["entries"]] == [
        "tokens.grant",
        "user.activate",
        "user.deactivate",
    ]
    newest = data["entries"][0]
    assert newest["admin"] == {"id": me["id"], "email": me["email"]}
    assert newest["target"] == {
        "type": "user",
        "id": uid,
        "email": user["email"],
        "name": user["name"],
    }
    assert newest["before"]["balance"] == 10_000 and newest["after"]["balance"] == 10_005
    assert newest["ip"] == "127.0.0.1" and newest["createdAt"].startswith("20")
    assert data["pagination"] == {"page": 1, "limit": 50, "total": 3, "pages": 1}

    def actions(query: str) -> list[str]:
        res = client.get(f"/api/admin/audit?{query}", headers=headers)
        assert res.status_code == 200, res.get_json()
        return [e["action"] for e in res.get_json()["data"]["entries"]]

    assert actions("action=user.activate") == ["user.activate"]
    assert actions(f"targetType=user&targetId={uid}&limit=2&page=2") == ["user.deactivate"]
    assert actions(f"adminId={me['id']}&limit=1") == ["tokens.grant"]
    assert actions("adminId=someone-else") == []
    # By email, in any case: what the person did, or what was done to them.
    assert actions(f"email={user['email'].upper()}") == [
        "tokens.grant",
        "user.activate",
        "user.deactivate",
    ]
    assert actions(f"email={me['email']}&action=tokens.grant") == ["tokens.grant"]
    assert actions("email=nobody@example.com") == []

    for bad in ("page=0", "limit=500"):
        assert client.get(f"/api/admin/audit?{bad}", headers=headers).status_code == 400


def test_audit_filters_by_utc_days_whether_the_date_is_stored_as_a_date_or_as_text(client, admin):
    _, headers = admin
    target = str(ObjectId())
    logs = AuditLog._get_collection()
    base = {"adminId": "cli", "targetType": "user", "targetId": target, "before": {}, "after": {}}
    # A date inserted as a date, and one stored as text (how nx-27017 keeps a `$set` date).
    logs.insert_one({**base, "action": "day.one", "createdAt": datetime(2026, 3, 10, 23, 59, 59)})
    logs.insert_one({**base, "action": "day.two", "createdAt": "2026-03-11T00:00:00+00:00"})
    assert isinstance(logs.find_one({"action": "day.two", "targetId": target})["createdAt"], str)

    def actions(query: str) -> list[str]:
        res = client.get(f"/api/admin/audit?targetId={target}&{query}", headers=headers)
        assert res.status_code == 200, res.get_json()
        return sorted(e["action"] for e in res.get_json()["data"]["entries"])

    assert actions("") == ["day.one", "day.two"]
    assert actions("from=2026-03-10&to=2026-03-11") == ["day.one", "day.two"]
    assert actions("from=2026-03-10&to=2026-03-10") == ["day.one"]
    assert actions("from=2026-03-11&to=2026-03-11") == ["day.two"]
    assert actions("from=2026-03-11") == ["day.two"]
    assert actions("to=2026-03-10") == ["day.one"]
    assert actions("action=day.two&from=2026-03-01&to=2026-03-31") == ["day.two"]
    assert actions("from=2026-03-12") == []
    assert actions("to=2026-03-09") == []

    bad = ("from=yesterday", "to=2026-02-30", "from=2026-03-11&to=2026-03-10", "from=10/3/2026")
    for query in bad:
        res = client.get(f"/api/admin/audit?{query}", headers=headers)
        assert res.status_code == 400, query
        assert res.get_json()["code"] == "VALIDATION_ERROR", query
