"""The provider clients against the fake OpenRouter over real HTTP on loopback."""

from __future__ import annotations

import json

import pytest

from common.providers.base import (
    ChatRequest,
    Finish,
    ModelUnavailable,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderModeration,
    ProviderOutOfCredits,
    ProviderRateLimited,
    ProviderStreamError,
    ProviderTimeout,
    TextDelta,
    ToolCallDelta,
    Usage,
    assemble_tool_calls,
)
from common.providers.huggingface import HuggingFaceProvider
from common.providers.openai_compat import OpenAICompatProvider
from common.providers.openrouter import OpenRouterProvider
from common.providers.registry import provider_for
from tests.fakes.catalog_data import hf_entry
from tests.support.services import free_port, wait_for


def _client(fake, **kwargs) -> OpenRouterProvider:
    options = {"connect_timeout": 5.0, "read_timeout": 10.0, **kwargs}
    return OpenRouterProvider(
        fake.base_url, "sk-test", app_url="http://app.test", app_title="AI Pasta", **options
    )


def _request(model: str = "fake/echo", text: str = "one two three") -> ChatRequest:
    return ChatRequest(model=model, messages=[{"role": "user", "content": text}], max_tokens=50)


def _events(client, request=None) -> list:
    return list(client.stream_chat(request or _request()))


def test_stream_yields_deltas_then_usage_then_finish(fake_openrouter):
    fake_openrouter.scenario("fake/echo", deltas=["Hel", "lo", " world"])
    events = _events(_client(fake_openrouter))
    assert events[:3] == [TextDelta("Hel"), TextDelta("lo"), TextDelta(" world")]
    assert isinstance(events[3], Usage) and events[3].completion_tokens == 3
    assert events[3].total_tokens == events[3].prompt_tokens + 3
    assert events[4] == Finish("stop")
    assert len(events) == 5  # the ": OPENROUTER PROCESSING" comment and [DONE] yield nothing


def test_default_deltas_echo_the_prompt(fake_openrouter):
    events = _events(_client(fake_openrouter), _request(text="alpha beta"))
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text.startswith("alpha beta alpha beta")
    assert sum(isinstance(e, TextDelta) for e in events) == 20


def test_usage_reports_the_cost_of_a_paid_model(fake_openrouter):
    fake_openrouter.scenario("openai/gpt-4o", deltas=["a"] * 10)
    events = _events(_client(fake_openrouter), _request("openai/gpt-4o", "x" * 400))
    usage = next(e for e in events if isinstance(e, Usage))
    assert (usage.prompt_tokens, usage.completion_tokens) == (100, 10)
    assert usage.cost == pytest.approx(100 * 0.0000025 + 10 * 0.00001)


def test_scripted_usage_and_no_usage_chunk(fake_openrouter):
    fake_openrouter.scenario("a/b", deltas=["x"], usage={"prompt_tokens": 7, "cost": 0.5})
    usage = next(
        e for e in _events(_client(fake_openrouter), _request("a/b")) if isinstance(e, Usage)
    )
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cost) == (7, 1, 0.5)
    fake_openrouter.scenario("a/b", deltas=["x"], usage=False)
    assert _events(_client(fake_openrouter), _request("a/b")) == [TextDelta("x"), Finish("stop")]


def test_request_carries_attribution_headers_and_body(fake_openrouter):
    _events(_client(fake_openrouter))
    stats = fake_openrouter.stats()
    headers = stats["last_headers"][-1]
    assert headers == {
        "Authorization": "Bearer sk-test",
        "HTTP-Referer": "http://app.test",
        "X-Title": "AI Pasta",
    }
    body = stats["last_requests"][-1]
    assert body["stream"] is True and body["model"] == "fake/echo" and body["max_tokens"] == 50


def test_finish_reason_length_is_passed_through(fake_openrouter):
    fake_openrouter.scenario("fake/echo", deltas=["a"], finish_reason="length")
    assert _events(_client(fake_openrouter))[-1] == Finish("length")


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        (401, "No auth credentials found", ProviderAuthError),
        (403, "Key disabled", ProviderAuthError),
        (402, "Insufficient credits", ProviderOutOfCredits),
        (400, "Bad request: too long", ProviderBadRequest),
        (404, "No endpoints found", ModelUnavailable),
        (502, "Bad gateway", ModelUnavailable),
        (503, "Overloaded", ModelUnavailable),
        (500, "Internal", ModelUnavailable),
    ],
)
def test_http_errors_become_typed_failures(fake_openrouter, status, error, expected):
    fake_openrouter.scenario("fake/echo", status=status, error=error)
    with pytest.raises(expected) as info:
        _events(_client(fake_openrouter))
    assert info.value.details["status"] == status
    assert info.value.details["providerMessage"] == error


def test_moderation_403_with_reasons(fake_openrouter):
    error = {
        "message": "Input flagged",
        "metadata": {"reasons": ["violence"], "flagged_input": "x"},
    }
    fake_openrouter.scenario("fake/echo", status=403, error=error)
    with pytest.raises(ProviderModeration) as info:
        _events(_client(fake_openrouter))
    assert info.value.details["reasons"] == ["violence"]
    assert info.value.code == "PROVIDER_ERROR" and info.value.status == 502


def test_rate_limit_honours_retry_after(fake_openrouter):
    fake_openrouter.scenario("fake/echo", status=429, error="Slow down", retry_after=7)
    with pytest.raises(ProviderRateLimited) as info:
        _events(_client(fake_openrouter))
    assert info.value.retry_after == 7.0
    assert info.value.details["retryAfter"] == 7.0 and info.value.retryable


def test_fail_times_then_success(fake_openrouter):
    fake_openrouter.scenario("fake/echo", status=503, fail_times=1, deltas=["ok"])
    client = _client(fake_openrouter)
    with pytest.raises(ModelUnavailable):
        _events(client)
    assert _events(client)[0] == TextDelta("ok")


def test_midstream_error_raises_stream_error_after_deltas(fake_openrouter):
    fake_openrouter.scenario("fake/echo", deltas=["a", "b", "c"], midstream_error_after=2)
    received = []
    with pytest.raises(ProviderStreamError) as info:
        for event in _client(fake_openrouter).stream_chat(_request()):
            received.append(event)
    assert received == [TextDelta("a"), TextDelta("b")]
    assert info.value.details["code"] == "server_error"


def test_stall_hits_the_idle_read_timeout(fake_openrouter):
    fake_openrouter.scenario("fake/echo", deltas=["a", "b"], stall_after=1, stall_seconds=30)
    received = []
    with pytest.raises(ProviderTimeout):
        for event in _client(fake_openrouter, read_timeout=0.5).stream_chat(_request()):
            received.append(event)
    assert received == [TextDelta("a")]
    wait_for(lambda: fake_openrouter.stats()["disconnects"] == 1, 10, what="the fake to see it")


def test_slow_but_steady_stream_is_not_a_timeout(fake_openrouter):
    fake_openrouter.scenario("fake/echo", first_delay=0.3, interval=0.2, deltas=list("abcd"))
    events = _events(_client(fake_openrouter, read_timeout=0.6))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "abcd"


def test_closing_the_generator_closes_the_connection(fake_openrouter):
    fake_openrouter.scenario("fake/echo", interval=0.05, delta_count=400)
    stream = _client(fake_openrouter).stream_chat(_request())
    assert isinstance(next(stream), TextDelta)
    assert isinstance(next(stream), TextDelta)
    stream.close()
    wait_for(lambda: fake_openrouter.stats()["disconnects"] == 1, 10, what="a disconnect")
    stats = fake_openrouter.stats()
    assert stats["completed_streams"] == 0 and stats["active_streams"] == 0


def test_connection_refused_is_model_unavailable():
    client = OpenRouterProvider(f"http://127.0.0.1:{free_port()}/api/v1", connect_timeout=2)
    with pytest.raises(ModelUnavailable):
        _events(client)
    with pytest.raises(ModelUnavailable):
        client.list_models()


def test_list_models_parses_prices_context_and_capabilities(fake_openrouter):
    models = {m.model_id: m for m in _client(fake_openrouter).list_models()}
    assert len(models) == 31 and fake_openrouter.stats()["models_calls"] == 1
    gpt = models["openai/gpt-4o"]
    assert (gpt.prompt_price, gpt.completion_price) == (0.0000025, 0.00001)
    assert gpt.context_window == 128000 and "image" in gpt.capabilities
    free = models["deepseek/deepseek-r1:free"]
    assert free.prompt_price == 0 and "reasoning" in free.capabilities
    assert "code" in models["agentica/deepcoder:free"].capabilities


def test_list_models_failure_is_typed(fake_openrouter):
    fake_openrouter.scenario("*", models_status=503)
    with pytest.raises(ModelUnavailable):
        _client(fake_openrouter).list_models()


def test_huggingface_loading_503_is_model_unavailable(fake_openrouter):
    body = {"error": "Model mistralai/x is currently loading", "estimated_time": 20.0}
    fake_openrouter.scenario("mistralai/x", status=503, error_body=body)
    client = HuggingFaceProvider(fake_openrouter.root + "/v1", "hf_test", read_timeout=5)
    with pytest.raises(ModelUnavailable) as info:
        _events(client, _request("mistralai/x"))
    assert info.value.details["retryAfter"] == 20.0
    assert "loading" in info.value.details["providerMessage"]


def test_huggingface_streams_and_lists_router_models(fake_openrouter):
    fake_openrouter.set_models(
        [
            {
                "id": "meta-llama/Llama-3.1-8B-Instruct",
                "object": "model",
                "owned_by": "meta-llama",
                "providers": [
                    {
                        "provider": "novita",
                        "status": "live",
                        "context_length": 16384,
                        "pricing": {"input": 0.05, "output": 0.1},
                    }
                ],
            }
        ]
    )
    client = HuggingFaceProvider(fake_openrouter.root + "/v1", "hf_test")
    [model] = client.list_models()
    assert model.provider == "huggingface" and model.context_window == 16384
    assert model.prompt_price == pytest.approx(0.05 / 1e6)
    fake_openrouter.scenario("*", deltas=["hi"])
    assert _events(client, _request(model.model_id))[0] == TextDelta("hi")
    headers = fake_openrouter.stats()["last_headers"][-1]
    assert headers["Authorization"] == "Bearer hf_test" and headers["X-Title"] is None
    body = fake_openrouter.stats()["last_requests"][-1]
    assert body["stream_options"] == {"include_usage": True}


def test_openai_compat_without_key_sends_no_authorization(fake_openrouter):
    client = OpenAICompatProvider(fake_openrouter.root + "/v1")
    assert _events(client)[-1] == Finish("stop")
    assert fake_openrouter.stats()["last_headers"][-1]["Authorization"] is None


def test_registry_builds_clients_from_settings(fake_openrouter, settings_override):
    settings_override(
        openrouter_base_url=fake_openrouter.base_url,
        openrouter_api_key="sk-reg",
        app_title="Pasta Test",
    )
    client = provider_for("openrouter")
    assert client is provider_for("openrouter")
    _events(client)
    assert fake_openrouter.stats()["last_headers"][-1]["X-Title"] == "Pasta Test"
    settings_override(openrouter_base_url=fake_openrouter.base_url, openrouter_api_key="sk-2")
    assert provider_for("openrouter") is not client
    assert provider_for("openai").enabled is False
    assert provider_for("huggingface").name == "huggingface"


def test_stream_cut_off_without_finishing_is_a_stream_error(fake_openrouter):
    fake_openrouter.scenario("fake/echo", deltas=["a", "b"], stall_after=1, stall_seconds=0.2)
    received = []
    with pytest.raises(ProviderStreamError):
        for event in _client(fake_openrouter, read_timeout=10).stream_chat(_request()):
            received.append(event)
    assert received == [TextDelta("a")]


def test_many_concurrent_streams_share_the_pool(fake_openrouter):
    import threading

    fake_openrouter.scenario("fake/echo", interval=0.01, delta_count=10)
    client = _client(fake_openrouter)
    texts: list[str] = []

    def run(i: int) -> None:
        events = _events(client, _request(text=f"w{i}"))
        texts.append("".join(e.text for e in events if isinstance(e, TextDelta)))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(texts) == sorted(" ".join([f"w{i}"] * 10) for i in range(40))
    # The fake counts a stream after its last write, which a client may have read already.
    wait_for(lambda: fake_openrouter.stats()["completed_streams"] == 40, 5, 0.02, "40 streams")


def test_fake_with_a_required_key_rejects_a_missing_one():
    from tests.fakes.openrouter import FakeOpenRouter

    with FakeOpenRouter(api_key="sk-right") as fake:
        with pytest.raises(ProviderAuthError):
            _events(OpenRouterProvider(fake.base_url, "sk-wrong"))
        assert _events(OpenRouterProvider(fake.base_url, "sk-right"))[-1] == Finish("stop")


# -- tools, structured output, images (the fake answers as OpenRouter does) ----------------------

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}


def _tool_request(**extra) -> ChatRequest:
    return ChatRequest(
        model="fake/echo",
        messages=[{"role": "user", "content": "Paris"}],
        max_tokens=50,
        extra={"tools": [WEATHER, TIME], **extra},
    )


def test_tool_calls_stream_as_fragments_and_finish_with_tool_calls(fake_openrouter):
    events = _events(_client(fake_openrouter), _tool_request())
    fragments = [e for e in events if isinstance(e, ToolCallDelta)]
    calls = assemble_tool_calls(fragments)
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_time"]  # parallel
    assert json.loads(calls[0]["function"]["arguments"]) == {"city": "Paris", "days": 1}
    assert all(c["id"].startswith("call_") and c["type"] == "function" for c in calls)
    assert len(fragments) > 3  # the arguments came in pieces
    assert fragments[0].name == "get_weather" and fragments[0].arguments == ""
    assert not [e for e in events if isinstance(e, TextDelta)]
    assert events[-1] == Finish("tool_calls")
    sent = fake_openrouter.stats()["last_requests"][-1]
    assert sent["tools"] == [WEATHER, TIME]


def test_named_tool_choice_and_no_parallel_calls_make_one_call(fake_openrouter):
    client = _client(fake_openrouter)
    named = {"type": "function", "function": {"name": "get_time"}}
    calls = assemble_tool_calls(
        [
            e
            for e in _events(client, _tool_request(tool_choice=named))
            if isinstance(e, ToolCallDelta)
        ]
    )
    assert [c["function"]["name"] for c in calls] == ["get_time"]
    single = _events(client, _tool_request(parallel_tool_calls=False))
    assert len(assemble_tool_calls([e for e in single if isinstance(e, ToolCallDelta)])) == 1
    none = _events(client, _tool_request(tool_choice="none"))
    assert not [e for e in none if isinstance(e, ToolCallDelta)] and none[-1] == Finish("stop")


def test_json_schema_response_format_is_answered_with_a_fitting_object(fake_openrouter):
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["name", "tags"],
    }
    fmt = {
        "type": "json_schema",
        "json_schema": {"name": "person", "schema": schema, "strict": True},
    }
    request = ChatRequest(
        model="fake/echo",
        messages=[{"role": "user", "content": "Ada"}],
        extra={"response_format": fmt},
    )
    text = "".join(
        e.text for e in _events(_client(fake_openrouter), request) if isinstance(e, TextDelta)
    )
    assert json.loads(text) == {"name": "Ada", "tags": ["Ada"]}


def test_an_image_reaches_a_model_that_takes_images_and_is_refused_by_one_that_does_not(
    fake_openrouter,
):
    image = {
        "type": "image_url",
        "image_url": {"url": "https://example.com/cat.png", "detail": "low"},
    }
    messages = [{"role": "user", "content": [{"type": "text", "text": "what is it"}, image]}]
    client = _client(fake_openrouter)
    seen = _events(client, ChatRequest(model="google/gemini-2.0-flash-exp:free", messages=messages))
    usage = next(e for e in seen if isinstance(e, Usage))
    assert usage.prompt_tokens >= 85  # the provider counts the image
    with pytest.raises(
        ModelUnavailable
    ):  # OpenRouter: 404 "No endpoints found that support image input"
        _events(client, ChatRequest(model="fake/echo", messages=messages))


def test_listing_says_what_each_model_takes(fake_openrouter):
    models = {m.model_id: m for m in _client(fake_openrouter).list_models()}
    assert set(models["fake/echo"].features) == {"tools", "json_object", "json_schema"}
    assert models["mistralai/mistral-7b-instruct:free"].features == ()
    assert models["openai/gpt-4o"].input_modalities == ("text", "image")
    assert models["meta-llama/llama-3.1-70b-instruct"].hf_id == "meta-llama/Llama-3.1-70B-Instruct"


def test_huggingface_listing_says_tools_structured_output_and_images(fake_openrouter):
    fake_openrouter.set_models(
        [
            hf_entry(
                "Qwen/Qwen2.5-VL-7B-Instruct", 0.2, 0.6, modalities=("text", "image"), tools=False
            )
        ]
    )
    hf = HuggingFaceProvider(fake_openrouter.base_url, "hf-test")
    (model,) = hf.list_models()
    assert model.features == ("json_object", "json_schema")
    assert (
        model.input_modalities == ("text", "image") and model.hf_id == "Qwen/Qwen2.5-VL-7B-Instruct"
    )
