"""The OpenAPI document and the reference page (Flask's client)."""

from __future__ import annotations

import re

import schemathesis

from web.chat.schemas import SendBody
from web.openai.schemas import ChatCompletionBody

# Not client API: the page, its files, the websocket (docs/websocket.md) and the operators'
# Prometheus scrape endpoint (docs/operations.md).
UNDOCUMENTED = {
    "static",
    "websocket",
    "pages.index",
    "pages.links",  # the pages mail links to and the printable receipt (docs/account.md)
    "openapi.static",
    "observability.scrape",
}


def test_every_route_is_in_the_document(app, client):
    doc = client.get("/api/openapi.json").get_json()
    documented = {(path, method.upper()) for path, item in doc["paths"].items() for method in item}
    missing = []
    for rule in app.url_map.iter_rules():
        if (
            rule.endpoint in UNDOCUMENTED
            or rule.rule.startswith("/api/openapi")
            or rule.rule in ("/api/docs",)
        ):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>:]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if (path, method) not in documented:
                missing.append(f"{method} {path} ({rule.endpoint})")
    assert missing == []
    assert doc["openapi"] == "3.1.0"


def test_request_schemas_are_the_validation_models(client):
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    for model in (SendBody, ChatCompletionBody):
        own = model.model_json_schema(ref_template="#/components/schemas/{model}")
        own.pop("$defs", None)
        assert schemas[model.__name__] == own
    completion = client.get("/api/openapi.json").get_json()["paths"]["/v1/chat/completions"]
    assert completion["post"]["security"] == [{"apiKeyAuth": []}]
    assert "text/event-stream" in completion["post"]["responses"]["200"]["content"]


def test_the_document_is_valid_openapi(client):
    doc = client.get("/api/openapi.json").get_json()
    schema = schemathesis.openapi.from_dict(doc)
    labels = {op.ok().label for op in schema.get_all_operations()}
    assert "POST /v1/chat/completions" in labels and "GET /api/user/api-keys" in labels


def test_reference_page_is_rendered_here_under_the_csp(client):
    res = client.get("/api/docs")
    html = res.get_data(as_text=True)
    assert res.status_code == 200 and "default-src 'self'" in res.headers["Content-Security-Policy"]
    assert "<script" not in html and "style=" not in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "/v1/chat/completions" in html and "ChatCompletionBody" in html
    css = re.search(r'href="([^"]+\.css)"', html).group(1)
    assert client.get(css).status_code == 200
