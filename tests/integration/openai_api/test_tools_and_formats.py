"""Tool calling, structured output, images and errors before the first token on `/v1`, through
the official `openai` SDK against the real stack (gunicorn + a Celery worker + Redis + nx-27017
+ the fake OpenRouter, which answers tool calls and JSON schemas as OpenRouter does)."""

from __future__ import annotations

import base64
import json

import openai
import pytest
from bson import ObjectId

from common.conversations.models import ChatMessage
from common.wallet.models import LedgerEntry
from common.wallet.reconcile import reconcile
from tests.support.chatkit import FREE, FREE2, tokens_of

VISION = "google/gemini-2.0-flash-exp:free"  # lists image input (tests/fakes/catalog_data.py)
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}},
    },
}
# A 2x2 PNG (as a data URL): the prompt estimate reads its size from the header.
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGM8ISfHwMDAxMDAwMDAAAANBAEIfXHKZgAA"
    "AABJRU5ErkJggg=="
)


def _mid(completion_id: str) -> str:
    return completion_id.removeprefix("chatcmpl-")


def _charged_as_receipted(mid: str) -> ChatMessage:
    """The stored answer; its ledger entry charged exactly its receipt."""
    msg = ChatMessage.objects(id=mid).first()
    entry = LedgerEntry._get_collection().find_one({"key": mid})
    assert entry["amount"] == -msg.receipt["charged"] == -msg.charged
    assert entry["details"]["modelId"] == msg.modelId
    return msg


def test_tool_calls_come_back_in_openai_shape_and_are_stored_and_charged(sdk, fake, user):
    answer = sdk().chat.completions.create(
        model=FREE,
        messages=[{"role": "user", "content": "Paris"}],
        tools=[WEATHER, TIME],
        tool_choice="auto",
    )
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    calls = choice.message.tool_calls
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]  # parallel calls
    assert json.loads(calls[0].function.arguments) == {"city": "Paris"}
    assert all(c.type == "function" and c.id.startswith("call_") for c in calls)
    sent = fake.stats()["last_requests"][-1]
    assert sent["tools"] == [WEATHER, TIME] and sent["tool_choice"] == "auto"
    msg = _charged_as_receipted(_mid(answer.id))
    assert [c["function"]["name"] for c in msg.toolCalls] == ["get_weather", "get_time"]
    assert msg.finishReason == "tool_calls" and msg.usage.completionTokens > 0
    assert msg.receipt["completionTokens"] == answer.usage.completion_tokens
    assert tokens_of(user[0]["id"])["balance"] == 10_000 - msg.charged
    assert reconcile() == []


def test_streamed_tool_calls_are_delta_fragments_with_index_id_name_arguments(sdk, fake):
    stream = sdk().chat.completions.create(
        model=FREE,
        messages=[{"role": "user", "content": "Oslo"}],
        tools=[WEATHER, TIME],
        parallel_tool_calls=False,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    fragments = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert fragments[0].index == 0 and fragments[0].id.startswith("call_")
    assert fragments[0].function.name == "get_weather" and fragments[0].type == "function"
    assert all(f.index == 0 and f.id is None for f in fragments[1:])  # one call, in pieces
    assert json.loads("".join(f.function.arguments for f in fragments)) == {"city": "Oslo"}
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "tool_calls" and set(finishes[:-1]) == {None}
    assert chunks[-1].usage.completion_tokens > 0
    assert fake.stats()["last_requests"][-1]["parallel_tool_calls"] is False


@pytest.mark.parametrize("stream", [False, True])
def test_a_two_step_tool_loop(sdk, fake, stream):
    client = sdk()
    messages = [{"role": "user", "content": "Lima"}]
    first = _create(client, stream, model=FREE, messages=messages, tools=[WEATHER])
    calls = first["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather"]
    messages += [
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "sunny, 24 C"},
    ]
    second = _create(client, stream, model=FREE, messages=messages, tools=[WEATHER])
    assert second["content"] == f"Tool results: {calls[0]['id']}=sunny, 24 C"
    assert second["finish_reason"] == "stop" and not second["tool_calls"]
    sent = fake.stats()["last_requests"][-1]["messages"]
    assert sent[1] == {"role": "assistant", "content": None, "tool_calls": calls}
    assert sent[2] == {"role": "tool", "content": "sunny, 24 C", "tool_call_id": calls[0]["id"]}
    assert reconcile() == []


def _create(client: openai.OpenAI, stream: bool, **ask) -> dict:
    """One answer as {content, tool_calls, finish_reason}, streamed or not."""
    if not stream:
        choice = client.chat.completions.create(**ask).choices[0]
        calls = [c.model_dump() for c in choice.message.tool_calls or []]
        return {
            "content": choice.message.content,
            "tool_calls": calls,
            "finish_reason": choice.finish_reason,
        }
    content, calls, finish = "", {}, None
    for chunk in client.chat.completions.create(stream=True, **ask):
        delta = chunk.choices[0].delta
        content += delta.content or ""
        for f in delta.tool_calls or []:
            call = calls.setdefault(
                f.index, {"id": f.id, "type": "function", "function": {"name": "", "arguments": ""}}
            )
            call["function"]["name"] += f.function.name or ""
            call["function"]["arguments"] += f.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    return {"content": content, "tool_calls": list(calls.values()), "finish_reason": finish}


def test_a_model_without_tools_is_400_param_tools_before_anything_is_held(sdk, fake, user):
    before = tokens_of(user[0]["id"])
    with pytest.raises(openai.BadRequestError) as err:
        sdk().chat.completions.create(
            model=FREE2, messages=[{"role": "user", "content": "hi"}], tools=[WEATHER]
        )
    assert err.value.body["param"] == "tools" and err.value.code == "unsupported_parameter"
    assert FREE2 in err.value.body["message"]
    assert tokens_of(user[0]["id"]) == before and fake.stats()["chat_calls"] == 0
    assert not list(ChatMessage.objects(userId__in=[ObjectId(user[0]["id"])]))


def test_json_schema_output_is_passed_on_and_answered_in_the_schema(sdk, fake):
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    fmt = {
        "type": "json_schema",
        "json_schema": {"name": "person", "schema": schema, "strict": True},
    }
    client = sdk()
    answer = client.chat.completions.create(
        model=FREE, messages=[{"role": "user", "content": "Ada"}], response_format=fmt
    )
    assert json.loads(answer.choices[0].message.content) == {"name": "Ada", "age": 1}
    assert fake.stats()["last_requests"][-1]["response_format"] == fmt
    mode = client.chat.completions.create(
        model=FREE,
        messages=[{"role": "user", "content": "Ada"}],
        response_format={"type": "json_object"},
    )
    assert json.loads(mode.choices[0].message.content) == {"answer": "Ada"}
    for kind in ("json_object", "json_schema"):
        with pytest.raises(openai.BadRequestError) as err:
            client.chat.completions.create(
                model=FREE2,
                messages=[{"role": "user", "content": "x"}],
                response_format=fmt if kind == "json_schema" else {"type": kind},
            )
        assert err.value.body["param"] == "response_format", kind


def test_images_reach_a_vision_model_and_are_refused_by_name_elsewhere(sdk, fake, user):
    parts = [
        {"type": "text", "text": "what is this"},
        {
            "type": "image_url",
            "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "high"},
        },
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}},
    ]
    client = sdk()
    answer = client.chat.completions.create(
        model=VISION, messages=[{"role": "user", "content": parts}], max_tokens=50
    )
    assert answer.choices[0].message.content.startswith("what is this [image] [image]")
    assert fake.stats()["last_requests"][-1]["messages"][0]["content"] == parts
    msg = _charged_as_receipted(_mid(answer.id))
    # The estimate: the text, the 2x2 PNG at high detail (85 + 170 x 1 tile), the URL at low (85).
    assert msg.promptEstimate == (len("what is this") + 3) // 4 + 4 + 255 + 85 + 2
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model=FREE, messages=[{"role": "user", "content": parts}])
    assert err.value.body["param"] == "messages.0.content.1"
    assert err.value.code == "unsupported_parameter"
    bad = [{"type": "image_url", "image_url": {"url": "http://example.com/x.png"}}]
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=VISION, messages=[{"role": "user", "content": bad}])
    assert reconcile() == []


def test_what_is_not_supported_is_refused_by_name(sdk):
    client = sdk()
    ask = {"model": FREE, "messages": [{"role": "user", "content": "x"}]}
    refusals = {
        "logprobs": {"logprobs": True},
        "top_logprobs": {"top_logprobs": 2},
        "modalities": {"modalities": ["text", "audio"]},
        "audio": {"audio": {"voice": "alloy", "format": "wav"}},
    }
    for param, extra in refusals.items():
        with pytest.raises(openai.BadRequestError) as err:
            client.chat.completions.create(**ask, **extra)
        assert err.value.body["param"] == param, param
    audio = {
        "type": "input_audio",
        "input_audio": {"data": base64.b64encode(b"x").decode(), "format": "wav"},
    }
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model=FREE, messages=[{"role": "user", "content": [audio]}])
    assert err.value.body["param"] == "messages.0.content.0"
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(**ask, n=2)
    assert err.value.status_code == 400


@pytest.mark.parametrize("stream", [False, True])
def test_a_failure_before_the_first_token_is_the_same_http_error_and_retried_alike(
    sdk, new_key, fake, user, stream
):
    """A provider refusing the request (not retried by us) is a 502 before any token: the SDK
    raises InternalServerError and retries it, streamed or not; nothing is charged."""
    fake.scenario(FREE, status=400, error="bad things")
    client = openai.OpenAI(api_key=new_key()[1], base_url=sdk().base_url, max_retries=2, timeout=60)
    with pytest.raises(openai.InternalServerError) as err:
        answer = client.chat.completions.create(
            model=FREE, messages=[{"role": "user", "content": "x"}], stream=stream
        )
        list(answer) if stream else None
    assert err.value.status_code == 502 and err.value.code == "provider_error"
    assert err.value.body["type"] == "api_error"
    assert fake.stats()["chat_calls"] == 3  # the SDK's two retries, whichever way it asked
    assert tokens_of(user[0]["id"])["balance"] == 10_000
    assert reconcile() == []


@pytest.mark.parametrize("stream", [False, True])
def test_a_legacy_completion_failing_before_the_first_token_is_the_same_http_error(
    sdk, fake, user, stream
):
    fake.scenario(FREE, status=400, error="bad things")
    with pytest.raises(openai.InternalServerError) as err:
        answer = (
            sdk()
            .with_options(max_retries=0)
            .completions.create(model=FREE, prompt="x", stream=stream)
        )
        list(answer) if stream else None
    assert err.value.status_code == 502 and err.value.code == "provider_error"
    assert tokens_of(user[0]["id"])["balance"] == 10_000
    assert reconcile() == []


def test_after_the_first_token_a_failure_stays_in_the_stream(sdk, fake, user):
    fake.scenario(FREE, deltas=["a", "b", "c"], midstream_error_after=2)
    stream = sdk().chat.completions.create(
        model=FREE, messages=[{"role": "user", "content": "x"}], stream=True
    )
    got = []
    with pytest.raises(openai.APIError) as err:
        for chunk in stream:
            got.append(chunk.choices[0].delta.content or "")
    assert "".join(got) == "ab" and "provider" in str(err.value.message).lower()
    assert tokens_of(user[0]["id"])["balance"] == 10_000
