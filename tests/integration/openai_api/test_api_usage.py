"""`/v1` requests are API usage records, not conversations: listed and exported per key, counted
in the usage report from the ledger — where deleting a conversation changes nothing."""

from __future__ import annotations

import requests

from tests.support.chatkit import FREE
from tests.support.http import auth

USAGE = {"prompt_tokens": 11, "completion_tokens": 12}


def totals(api) -> dict:
    data = api.get("/api/user/usage", days=7).json()["data"]
    return {"totals": data["totals"], "byKey": data["byKey"], "byModel": data["byModel"]}


def test_api_requests_are_listed_and_exported_per_key_and_never_fill_the_sidebar(
    api, sdk, new_key, fake
):
    fake.scenario(FREE, deltas=["a", "b"], usage=USAGE)
    first, first_secret = new_key(name="batch")
    second, second_secret = new_key(name="laptop")
    for secret in (first_secret, first_secret, second_secret):
        sdk(secret).chat.completions.create(
            model=FREE, messages=[{"role": "user", "content": "hello"}], max_tokens=50
        )
    assert api.get("/api/chat/sessions").json()["data"]["sessions"] == []  # no conversation
    found = api.get("/api/chat/search", q="ab")  # the records' text ("a" "b") is not a chat
    assert found.status_code == 200, found.text

    listed = api.get("/api/user/usage/api-requests").json()["data"]
    assert listed["total"] == 3
    assert {r["apiKeyId"] for r in listed["requests"]} == {first["id"], second["id"]}
    record = listed["requests"][0]
    assert (record["status"], record["modelId"], record["totalTokens"]) == ("done", FREE, 23)
    assert record["charged"] == 23 and record["requestId"]
    only = api.get("/api/user/usage/api-requests", keyId=first["id"], limit=1).json()["data"]
    assert (only["total"], only["totalPages"], len(only["requests"])) == (2, 2, 1)
    assert only["requests"][0]["apiKeyId"] == first["id"]

    by_key = {k["apiKeyId"]: k for k in totals(api)["byKey"]}
    assert (by_key[first["id"]]["requests"], by_key[first["id"]]["charged"]) == (2, 46)
    assert by_key[second["id"]]["name"] == "laptop"
    assert api.get("/api/user/usage/api-requests", keyId="nope").status_code == 400


def spent_for_admin(live, admin_token: str, user_id: str) -> dict:
    res = requests.get(
        live.base_url + "/api/admin/analytics", headers=auth(admin_token), timeout=30
    )
    data = res.json()["data"]
    mine = [u for u in data["topUsers"] if u["userId"] == user_id]
    return {"user": mine, "charged": data["totals"]["charged"], "keys": data["apiKeys"]}


def test_deleting_a_conversation_changes_no_usage_total(
    live, api, user, sdk, new_key, fake, make_admin
):
    fake.scenario(FREE, deltas=["x", "y"], usage=USAGE)
    res = api.post("/api/chat", {"message": "hi", "modelId": FREE, "wait": True})
    assert res.status_code == 200, res.text
    session_id = res.json()["data"]["session"]["sessionId"]
    sdk(new_key()[1]).chat.completions.create(
        model=FREE, messages=[{"role": "user", "content": "hello"}], max_tokens=50
    )
    before = totals(api)
    assert before["totals"]["requests"] == 2 and before["totals"]["charged"] == 46
    admin_token = make_admin()[1]
    admin_before = spent_for_admin(live, admin_token, user[0]["id"])
    assert admin_before["user"][0]["charged"] == 46
    assert api.delete(f"/api/chat/sessions/{session_id}").status_code == 200
    assert totals(api) == before
    assert spent_for_admin(live, admin_token, user[0]["id"]) == admin_before
