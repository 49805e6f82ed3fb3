"""What programs build on `/v1` with, against the real stack: LangChain (`bind_tools`,
`with_structured_output` in function-calling and json_schema modes), LiteLLM's SDK, LlamaIndex's
`OpenAILike` (chat and completion modes) and instructor (TOOLS and JSON_SCHEMA), streaming and not, with two-step tool
loops. After each, every charge matches its receipt and the wallets reconcile.

The fake OpenRouter answers tool calls with arguments built from each function's JSON schema
(strings from the last user text) and structured output with an instance of the schema
(`tests/fakes/answers.py`), so each library's parsing of the real wire format is what is tested.
"""

from __future__ import annotations

import json
import os

import pytest
from bson import ObjectId
from pydantic import BaseModel

from common.conversations.models import ChatMessage
from common.wallet.models import LedgerEntry
from common.wallet.reconcile import reconcile
from tests.support.chatkit import FREE

# LiteLLM would fetch its model price list from the internet at import; use the packaged one.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


class Person(BaseModel):
    name: str
    age: int


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.fixture
def v1(live, new_key, user):
    """(base URL of /v1, a key's secret); afterwards, every answer's charge is its receipt's."""
    yield live.base_url + "/v1", new_key()[1]
    _charges_match_receipts(user[0]["id"])


def _charges_match_receipts(user_id: str) -> None:
    # nx-27017 matches an ObjectId field other than _id only with $in (common/stored.py).
    answers = list(ChatMessage.objects(userId__in=[ObjectId(user_id)], role="assistant"))
    assert answers and all(m.status == "done" for m in answers)
    for msg in answers:
        entry = LedgerEntry._get_collection().find_one({"key": str(msg.id)})
        assert entry["source"] == "api"
        assert entry["amount"] == -msg.charged == -msg.receipt["charged"], msg.id
    assert reconcile() == []


# -- LangChain ------------------------------------------------------------------------------------


def _langchain(v1, **kwargs):
    from langchain_openai import ChatOpenAI

    base, secret = v1
    return ChatOpenAI(model=FREE, base_url=base, api_key=secret, max_retries=0, **kwargs)


@pytest.mark.parametrize("streaming", [False, True])
def test_langchain_bind_tools_and_a_tool_loop(v1, fake, streaming):
    from langchain_core.messages import HumanMessage, ToolMessage

    llm = _langchain(v1, streaming=streaming).bind_tools([get_weather])
    question = HumanMessage("Paris")
    call = llm.invoke([question])
    assert [(c["name"], c["args"]) for c in call.tool_calls] == [("get_weather", {"city": "Paris"})]
    tool_call = call.tool_calls[0]
    result = ToolMessage(get_weather(**tool_call["args"]), tool_call_id=tool_call["id"])
    answer = llm.invoke([question, call, result])
    assert answer.content == f"Tool results: {tool_call['id']}=sunny in Paris"
    assert not answer.tool_calls
    sent = fake.stats()["last_requests"][-1]
    assert sent["messages"][1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert sent["messages"][2] == {
        "role": "tool",
        "content": "sunny in Paris",
        "tool_call_id": tool_call["id"],
    }


def test_langchain_streams_tool_call_chunks(v1):
    llm = _langchain(v1).bind_tools([get_weather])
    chunks = list(llm.stream("Rome"))
    assert any(c.tool_call_chunks for c in chunks)
    gathered = chunks[0]
    for chunk in chunks[1:]:
        gathered = gathered + chunk
    assert [(c["name"], c["args"]) for c in gathered.tool_calls] == [
        ("get_weather", {"city": "Rome"})
    ]


@pytest.mark.parametrize("method", ["function_calling", "json_schema"])
def test_langchain_with_structured_output(v1, fake, method):
    structured = _langchain(v1).with_structured_output(Person, method=method, include_raw=True)
    out = structured.invoke("Ada")
    assert out["parsed"] == Person(name="Ada", age=1) and out["parsing_error"] is None
    sent = fake.stats()["last_requests"][-1]
    if method == "json_schema":
        assert sent["response_format"]["type"] == "json_schema" and "tools" not in sent
    else:
        assert sent["tools"][0]["function"]["name"] == "Person"


# -- LiteLLM --------------------------------------------------------------------------------------


def _litellm(v1, **ask):
    import litellm

    base, secret = v1
    return litellm.completion(
        model=f"openai/{FREE}", api_base=base, api_key=secret, num_retries=0, **ask
    )


def test_litellm_completion_streamed_and_not(v1, fake):
    import litellm

    fake.scenario(FREE, deltas=["lite", "llm"])
    answer = _litellm(v1, messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "litellm" and answer.usage.total_tokens > 0
    chunks = list(_litellm(v1, messages=[{"role": "user", "content": "hi"}], stream=True))
    built = litellm.stream_chunk_builder(chunks)
    assert built.choices[0].message.content == "litellm"


@pytest.mark.parametrize("stream", [False, True])
def test_litellm_tool_loop(v1, stream):
    import litellm

    messages = [{"role": "user", "content": "Lima"}]
    first = _litellm(v1, messages=messages, tools=[WEATHER_TOOL], stream=stream)
    if stream:
        first = litellm.stream_chunk_builder(list(first))
    assert first.choices[0].finish_reason == "tool_calls"
    call = first.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    args = json.loads(call.function.arguments)
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": get_weather(**args)},
    ]
    second = _litellm(v1, messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].message.content == f"Tool results: {call.id}=sunny in Lima"


def test_litellm_json_schema_response_format(v1):
    answer = _litellm(v1, messages=[{"role": "user", "content": "Ada"}], response_format=Person)
    assert Person.model_validate_json(answer.choices[0].message.content) == Person(
        name="Ada", age=1
    )


# -- LlamaIndex -----------------------------------------------------------------------------------


def _llama(v1, chat: bool = True):
    from llama_index.llms.openai_like import OpenAILike

    base, secret = v1
    return OpenAILike(
        model=FREE,
        api_base=base,
        api_key=secret,
        is_chat_model=chat,
        is_function_calling_model=chat,
        context_window=8192,
        max_retries=0,
    )


def test_llamaindex_openailike_chat_streamed_and_not(v1, fake):
    from llama_index.core.llms import ChatMessage as LlamaMessage

    fake.scenario(FREE, deltas=["llama", " index"])
    llm = _llama(v1)
    asked = [LlamaMessage(role="user", content="hi")]
    assert llm.chat(asked).message.content == "llama index"
    assert "".join(r.delta or "" for r in llm.stream_chat(asked)) == "llama index"
    assert llm.complete("hi").text == "llama index"  # chat mode: complete() goes through chat


def test_llamaindex_openailike_completion_mode_streamed_and_not(v1, fake):
    """LlamaIndex's default mode (`is_chat_model=False`) calls the legacy `/v1/completions`."""
    fake.scenario(FREE, deltas=["legacy", " mode"])
    llm = _llama(v1, chat=False)
    assert llm.complete("hi").text == "legacy mode"
    assert "".join(r.delta or "" for r in llm.stream_complete("hi")) == "legacy mode"
    assert fake.stats()["chat_by_model"][FREE] == 2


@pytest.mark.parametrize("stream", [False, True])
def test_llamaindex_tool_loop(v1, stream):
    from llama_index.core.llms import ChatMessage as LlamaMessage
    from llama_index.core.tools import FunctionTool

    llm = _llama(v1)
    tool = FunctionTool.from_defaults(fn=get_weather)
    if stream:
        *_, response = llm.stream_chat_with_tools([tool], user_msg="Kyiv")
    else:
        response = llm.chat_with_tools([tool], user_msg="Kyiv")
    [selection] = llm.get_tool_calls_from_response(response)
    assert (selection.tool_name, selection.tool_kwargs) == ("get_weather", {"city": "Kyiv"})
    history = [LlamaMessage(role="user", content="Kyiv"), response.message]
    history.append(
        LlamaMessage(
            role="tool",
            content=tool(**selection.tool_kwargs).content,
            additional_kwargs={"tool_call_id": selection.tool_id},
        )
    )
    final = llm.chat_with_tools([tool], chat_history=history)
    assert final.message.content == f"Tool results: {selection.tool_id}=sunny in Kyiv"


# -- instructor -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["TOOLS", "JSON_SCHEMA"])
def test_instructor_modes_streamed_and_not(v1, fake, mode):
    import instructor
    import openai

    base, secret = v1
    client = instructor.from_openai(
        openai.OpenAI(base_url=base, api_key=secret, max_retries=0),
        mode=getattr(instructor.Mode, mode),
    )
    ask = {"model": FREE, "messages": [{"role": "user", "content": "Grace"}], "max_retries": 0}
    person = client.chat.completions.create(response_model=Person, **ask)
    assert person.model_dump() == {"name": "Grace", "age": 1}
    partials = list(client.chat.completions.create_partial(response_model=Person, **ask))
    assert partials[-1].name == "Grace" and partials[-1].age == 1
    sent = fake.stats()["last_requests"][-1]
    if mode == "TOOLS":
        assert sent["tool_choice"]["function"]["name"] == "PartialPerson"  # the streamed call
    else:
        assert sent["response_format"]["type"] == "json_schema"
