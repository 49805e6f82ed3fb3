"""The account and mail routes are in /api/openapi.json with the statuses they answer."""

from __future__ import annotations

# A JSON body adds 413 and 415, a rate limit 429, every route 503 (web/openapi.py).
BODY = {"400", "413", "415"}
ROUTES = {
    ("post", "/api/auth/forgot-password"): {"202", "429", "503"} | BODY,
    ("post", "/api/auth/reset-password"): {"200", "429", "503"} | BODY,
    ("post", "/api/auth/verify-email"): {"200", "429", "503"} | BODY,
    ("post", "/api/auth/verify-email/resend"): {"200", "202", "401", "429", "503"},
    ("post", "/api/auth/confirm-email"): {"200", "409", "429", "503"} | BODY,
    ("put", "/api/user/email"): {"202", "401", "403", "409", "429", "503"} | BODY,
    ("get", "/api/user/payments/{order_id}/receipt"): {"200", "401", "404", "429", "503"},
    ("get", "/api/admin/mail"): {"200", "400", "401", "403", "429", "503"},
    ("post", "/api/admin/mail/{mail_id}/retry"): {"200", "401", "403", "404", "409", "429", "503"},
}


def test_new_routes_are_documented_with_their_statuses(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    for (method, path), statuses in ROUTES.items():
        op = paths[path][method]
        assert set(op["responses"]) == statuses, path
    assert paths["/api/auth/forgot-password"]["post"]["security"] == []
    assert paths["/api/user/email"]["put"]["security"] == [{"bearerAuth": []}]
