"""API usage per key in the admin analytics report, read from the ledger (what was spent)."""

from __future__ import annotations

from bson import ObjectId

from common.apikeys.models import ApiKey
from common.conversations.models import ChatMessage
from common.wallet.service import _ledger
from tests.support.http import auth
from tests.support.seed import assistant_doc, at


def test_analytics_report_usage_per_api_key(client, make_admin):
    _, token = make_admin()
    owner = ObjectId()
    key = ApiKey(userId=owner, name="ci", prefix="ap-abcdefg", secretHash="h" * 64).save()
    kid = str(key.id)
    answers = [
        assistant_doc(owner, at("2025-03-03"), "m/a", 100, apiKeyId=kid),
        assistant_doc(owner, at("2025-03-04"), "m/a", 50, apiKeyId=kid),
        assistant_doc(owner, at("2025-03-04"), "m/a", 70),  # the web client: no key
    ]
    ChatMessage._get_collection().insert_many(answers)
    _ledger().insert_many(
        [
            {
                "key": str(a["_id"]),
                "user": owner,
                "kind": "charge",
                "amount": -a["charged"],
                "free": -a["charged"],
                "purchased": 0,
                "source": "api" if a.get("apiKeyId") else "chat",
                "details": {
                    "status": "done",
                    "modelId": "m/a",
                    "tokens": a["usage"]["totalTokens"],
                    **({"apiKeyId": a["apiKeyId"]} if a.get("apiKeyId") else {}),
                },
                "applied": True,
                "createdAt": a["createdAt"],
            }
            for a in answers
        ]
    )
    res = client.get("/api/admin/analytics?from=2025-03-01&to=2025-03-10", headers=auth(token))
    rows = res.get_json()["data"]["apiKeys"]
    assert rows == [
        {
            "apiKeyId": kid,
            "name": "ci",
            "prefix": "ap-abcdefg",
            "userId": str(owner),
            "requests": 2,
            "tokens": 150,
            "charged": 150,
        }
    ]
