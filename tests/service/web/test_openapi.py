"""The OpenAPI document and the reference page (Flask's client)."""

from __future__ import annotations

import re
from pathlib import Path

import schemathesis
from openapi_spec_validator import validate

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
    validate(doc)  # openapi-spec-validator: raises on any fault
    schema = schemathesis.openapi.from_dict(doc)
    labels = {op.ok().label for op in schema.get_all_operations()}
    assert "POST /v1/chat/completions" in labels and "GET /api/user/api-keys" in labels


def _operations(doc: dict):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            yield f"{method.upper()} {path}", op


def test_operations_have_unique_ids_and_list_every_status_they_answer(client):
    doc = client.get("/api/openapi.json").get_json()
    ids = [op["operationId"] for _, op in _operations(doc)]
    assert len(ids) == len(set(ids))
    for label, op in _operations(doc):
        statuses = set(op["responses"])
        assert "default" not in statuses and "500" not in statuses, label
        assert "503" in statuses, label  # MongoDB or Redis down
        if op["security"]:
            assert "401" in statuses, label
        if "requestBody" in op:
            assert {"400", "413", "415"} <= statuses, label
        shape = "OpenAIError" if label.split()[1].startswith("/v1") else "ErrorBody"
        for status, response in op["responses"].items():
            if status >= "400" and label != "GET /health":
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/" + shape), (label, status)
        if "429" in statuses:
            assert "Retry-After" in op["responses"]["429"]["headers"], label
    ops = dict(_operations(doc))
    assert "429" not in ops["POST /api/plans/webhook"]["responses"]  # exempt: Razorpay's
    assert "403" in ops["GET /api/admin/users"]["responses"]  # admins only
    assert "403" not in ops["GET /api/user/profile"]["responses"]


def test_schemas_are_as_strict_as_the_server(client):
    doc = client.get("/api/openapi.json").get_json()
    ops = dict(_operations(doc))
    days = next(p for p in ops["GET /api/user/usage"]["parameters"] if p["name"] == "days")
    assert days["schema"]["enum"] == [7, 30, 90]
    assert client.get("/api/user/usage?days=0").status_code == 401  # the route exists
    send = doc["components"]["schemas"]["SendBody"]
    assert send["properties"]["message"]["maxLength"] == 32_000  # MAX_MESSAGE_CHARS
    assert send["allOf"]  # a model, and text unless it regenerates
    completion = doc["components"]["schemas"]["ChatCompletionBody"]
    assert completion["properties"]["max_tokens"]["maximum"] == 4000  # MAX_TOKENS_PER_REQUEST
    assert completion["properties"]["messages"]["contains"]["properties"]["role"] == {
        "const": "user"
    }
    page = next(p for p in ops["GET /api/chat/sessions"]["parameters"] if p["name"] == "limit")
    assert (page["schema"]["minimum"], page["schema"]["maximum"]) == (1, 100)


def test_streamed_answers_are_described_event_by_event(client):
    doc = client.get("/api/openapi.json").get_json()
    for path, chunk in (
        ("/v1/chat/completions", "ChatCompletionChunkOut"),
        ("/v1/completions", "TextCompletionChunkOut"),
    ):
        sse = doc["paths"][path]["post"]["responses"]["200"]["content"]["text/event-stream"]
        assert set(sse) == {"schema"}  # no `description` inside the media type object
        data = sse["schema"]["properties"]["data"]
        assert data["anyOf"][0] == {"const": "[DONE]"}
        payload = data["anyOf"][1]["contentSchema"]["anyOf"]
        assert payload[0]["$ref"].endswith("/" + chunk)


def test_reference_page_is_rendered_here_under_the_csp(client):
    res = client.get("/api/docs")
    html = res.get_data(as_text=True)
    assert res.status_code == 200 and "default-src 'self'" in res.headers["Content-Security-Policy"]
    assert "<script" not in html and "style=" not in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "/v1/chat/completions" in html and "ChatCompletionBody" in html
    css = re.search(r'href="([^"]+\.css)"', html).group(1)
    assert client.get(css).status_code == 200


def test_the_docs_list_each_operations_statuses_as_the_document_does(client):
    doc = client.get("/api/openapi.json").get_json()
    want = {
        label: (
            ", ".join(s for s in op["responses"] if s < "400"),
            ", ".join(s for s in op["responses"] if s >= "400"),
        )
        for label, op in _operations(doc)
    }
    listed = {}
    for page in ("api.md", "openai.md"):
        text = (Path(__file__).parents[3] / "docs" / page).read_text()
        for row in re.finditer(r"^\| `([A-Z]+ /\S*)` \| ([\d, ]+) \| ([\d, ]+) \|$", text, re.M):
            listed[row.group(1)] = (row.group(2), row.group(3))
    assert listed == want
