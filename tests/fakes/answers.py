"""What the fake provider answers to a request that asks for tools or structured output.

Deterministic, so tests can predict it:

- **Tool calls.** With `tools` offered and `tool_choice` not `"none"`, a request whose last
  message is not a tool result is answered with calls: to the named function
  (`tool_choice: {"type": "function", ...}`), else to every offered function when
  `parallel_tool_calls` is not false (parallel calls), else to the first. The arguments are an
  instance of each function's JSON schema (`instance`), strings taken from the last user text.
  A request whose last message is a tool result is answered in text that quotes the results,
  so a two-step tool loop can check the round trip.
- **Structured output.** `response_format: json_schema` is answered with an instance of the
  schema; `json_object` with `{"answer": <the last user text>}`.

Images (`image_url` parts) are read as text `[image]` for the echo; the usage counts each one
at OpenAI's low-detail price (85 tokens) or its high-detail 512-px-tile price for an image of
unknown size (765, a 1024x1024 image), as the provider would report it.
"""

from __future__ import annotations

import json
from typing import Any

LOW_DETAIL_TOKENS = 85
HIGH_DETAIL_TOKENS = 765


def text_of(content: Any) -> str:
    """A message's text: the string, or its text parts (an image reads `[image]`)."""
    if isinstance(content, list):
        out = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                out.append(str(part.get("text", "")))
            elif isinstance(part, dict) and part.get("type") == "image_url":
                out.append("[image]")
        return " ".join(out)
    return "" if content is None else str(content)


def image_parts(body: dict) -> list[dict]:
    parts = []
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            parts += [p for p in content if isinstance(p, dict) and p.get("type") == "image_url"]
    return parts


def image_tokens(body: dict) -> int:
    total = 0
    for part in image_parts(body):
        detail = (part.get("image_url") or {}).get("detail", "auto")
        total += LOW_DETAIL_TOKENS if detail == "low" else HIGH_DETAIL_TOKENS
    return total


def last_user_text(body: dict) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return text_of(message.get("content")).strip()
    return ""


# -- tool calls -----------------------------------------------------------------------------------


def wants_tool_calls(body: dict) -> bool:
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    if not tools or body.get("tool_choice") == "none":
        return False
    last = (body.get("messages") or [{}])[-1]
    return not (isinstance(last, dict) and last.get("role") == "tool")


def planned_calls(body: dict, call_ids: Any) -> list[dict]:
    """The calls to make: `[{"id", "name", "arguments" (JSON text)}]`."""
    functions = [t.get("function") or {} for t in body.get("tools") or [] if isinstance(t, dict)]
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        functions = [f for f in functions if f.get("name") == name]
    elif body.get("parallel_tool_calls") is False:
        functions = functions[:1]
    words = last_user_text(body)
    return [
        {
            "id": f"call_{next(call_ids)}",
            "name": str(f.get("name", "")),
            "arguments": json.dumps(instance(f.get("parameters") or {}, words)),
        }
        for f in functions
    ]


def tool_results_answer(body: dict) -> str:
    """The answer after tool results: quotes each, so the caller sees they arrived."""
    results = []
    for message in reversed(body.get("messages") or []):
        if not isinstance(message, dict) or message.get("role") != "tool":
            break
        results.append(f"{message.get('tool_call_id')}={text_of(message.get('content'))}")
    return "Tool results: " + "; ".join(reversed(results))


# -- structured output ----------------------------------------------------------------------------


def structured_answer(body: dict) -> str | None:
    """The JSON text a `response_format` asks for (None for plain text)."""
    fmt = body.get("response_format")
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema") or {}
        return json.dumps(instance(schema, last_user_text(body)))
    if fmt.get("type") == "json_object":
        return json.dumps({"answer": last_user_text(body)})
    return None


def instance(schema: dict, text: str, defs: dict | None = None, depth: int = 0) -> Any:
    """A value that validates against `schema` (the subset tools and structured output use:
    objects, arrays, scalars, enum/const, anyOf/oneOf, `$ref` into `$defs`)."""
    defs = {**(defs or {}), **(schema.get("$defs") or schema.get("definitions") or {})}
    if depth > 8:
        return None
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return instance(defs.get(name) or {}, text, defs, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(key) or [] if o.get("type") != "null"]
        if options:
            return instance(options[0], text, defs, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        return {name: instance(sub, text, defs, depth + 1) for name, sub in props.items()}
    if kind == "array":
        count = max(1, int(schema.get("minItems") or 1))
        return [instance(schema.get("items") or {}, text, defs, depth + 1) for _ in range(count)]
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return text or "example"
