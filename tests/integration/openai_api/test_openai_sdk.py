"""The OpenAI-compatible API through the official `openai` SDK, against the real stack
(gunicorn + a Celery worker + Redis + nx-27017 + the fake OpenRouter)."""

from __future__ import annotations

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
import requests
from bson import ObjectId

from common.apikeys import service as keys
from common.apikeys.models import ApiKey
from common.conversations.models import ChatMessage, ChatSession
from common.streaming import channel
from common.wallet.models import LedgerEntry
from common.wallet.reconcile import reconcile
from tests.support.chatkit import FREE, PAID, set_balance, tokens_of
from tests.support.services import wait_for

WORDS = [f"w{i} " for i in range(12)]
USAGE = {"prompt_tokens": 11, "completion_tokens": 12, "total_tokens": 23}


def _entry(message_id: str) -> dict:
    return LedgerEntry._get_collection().find_one({"key": message_id})


def _mid(completion_id: str) -> str:
    return completion_id.removeprefix("chatcmpl-")


def test_non_streaming_answer_is_charged_to_the_wallet_as_api_usage(sdk, fake, new_key, user):
    fake.scenario(FREE, deltas=WORDS, usage=USAGE)
    key, secret = new_key()
    answer = sdk(secret).chat.completions.create(
        model=FREE, messages=[{"role": "user", "content": "hello"}], max_tokens=100
    )
    assert answer.object == "chat.completion" and answer.model == FREE
    assert answer.choices[0].message.content == "".join(WORDS)
    assert answer.choices[0].finish_reason == "stop"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (11, 12)
    assert answer.usage.model_extra["cost"] == 23  # the charge, in wallet tokens
    mid = _mid(answer.id)
    entry = _entry(mid)
    assert entry["source"] == "api" and entry["details"]["apiKeyId"] == key["id"]
    assert entry["amount"] == -23
    assert tokens_of(user[0]["id"])["balance"] == 10_000 - 23
    assert keys.key_dict(ApiKey.objects(id=key["id"]).first())["spentTokens"] == 23
    record = ChatMessage.objects(id=mid).first()  # the request's API usage record
    assert (record.kind, record.sessionId, record.apiKeyId) == ("api", None, key["id"])
    assert (record.status, record.charged, record.usage.totalTokens) == ("done", 23, 23)
    assert record.requestId and record.modelId == FREE
    owner = [ObjectId(user[0]["id"])]
    assert list(ChatSession.objects(userId__in=owner)) == []  # not a conversation
    listed = sdk_list(sdk, secret)
    assert FREE in listed
    assert reconcile() == []


def sdk_list(sdk, secret: str) -> list[str]:
    return [m.id for m in sdk(secret).models.list()]


def test_streaming_answer_with_usage_chunk(sdk, fake):
    fake.scenario(FREE, deltas=WORDS, usage=USAGE, interval=0.01)
    stream = sdk().chat.completions.create(
        model=FREE,
        messages=[{"role": "user", "content": "hello"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "".join(WORDS)
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 23
    assert chunks[-1].usage.model_extra["cost"] == 23  # the charge, in wallet tokens
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)


def test_plain_sse_ends_with_done(live, fake, new_key):
    fake.scenario(FREE, deltas=["a", "b"])
    res = requests.post(
        live.base_url + "/v1/chat/completions",
        json={"model": FREE, "messages": [{"role": "user", "content": "x"}], "stream": True},
        headers={"Authorization": f"Bearer {new_key()[1]}"},
        stream=True,
        timeout=30,
    )
    assert res.headers["Content-Type"].startswith("text/event-stream")
    events = [line for line in res.iter_lines(decode_unicode=True) if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]" and len(events) == 1 + 2 + 1 + 1


def test_multi_turn_messages_are_the_prompt(sdk, fake):
    fake.scenario(FREE, deltas=["ok"])
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "developer", "content": [{"type": "text", "text": "dev note"}]},
        {"role": "user", "content": "second question"},
    ]
    answer = sdk().chat.completions.create(
        model=FREE,
        messages=messages,
        temperature=0.5,
        top_p=0.9,
        stop=["END"],
        user="u-1",
        extra_body={"unknown_field": {"ignored": True}},
    )
    assert answer.choices[0].message.content == "ok"
    sent = fake.stats()["last_requests"][-1]
    assert sent["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "system", "content": "dev note"},
        {"role": "user", "content": "second question"},
    ]
    assert (sent["temperature"], sent["top_p"], sent["stop"]) == (0.5, 0.9, ["END"])


def test_paid_model_on_free_plan_is_403(sdk):
    with pytest.raises(openai.PermissionDeniedError) as err:
        sdk().chat.completions.create(model=PAID, messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 403 and err.value.code == "paywall"
    assert err.value.body["type"] == "permission_error"


def test_too_few_tokens_is_402(sdk, user):
    set_balance(user[0]["id"], 50)
    with pytest.raises(openai.APIStatusError) as err:
        sdk().chat.completions.create(
            model=FREE, messages=[{"role": "user", "content": "hi"}], max_tokens=500
        )
    assert err.value.status_code == 402 and err.value.code == "insufficient_tokens"
    assert tokens_of(user[0]["id"])["balance"] == 50


def test_revoked_key_is_refused_at_once(sdk, api, new_key, fake):
    fake.scenario(FREE, deltas=["ok"])
    key, secret = new_key()
    client = sdk(secret)
    client.chat.completions.create(model=FREE, messages=[{"role": "user", "content": "hi"}])
    assert api.delete(f"/api/user/api-keys/{key['id']}").status_code == 200
    with pytest.raises(openai.AuthenticationError) as err:
        client.chat.completions.create(model=FREE, messages=[{"role": "user", "content": "hi"}])
    assert "revoked" in err.value.message and err.value.code == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_key_over_its_cap_is_429_with_retry_after(sdk, new_key, fake, user):
    fake.scenario(FREE, deltas=WORDS, usage=USAGE)
    key, secret = new_key(dailyTokenCap=300)
    client = sdk(secret)
    ask = {"model": FREE, "messages": [{"role": "user", "content": "hi"}]}
    client.chat.completions.create(**ask, max_tokens=200)  # holds ~210, charges 23
    client.chat.completions.create(**ask, max_tokens=200)  # the first's hold came back
    with pytest.raises(openai.RateLimitError) as err:
        client.chat.completions.create(**ask, max_tokens=280)  # 46 spent + ~290 > 300
    assert err.value.code == "key_cap_reached" and "daily cap of 300" in err.value.message
    assert 0 < int(err.value.response.headers["Retry-After"]) <= 86_401
    assert tokens_of(user[0]["id"])["reserved"] == 0


def test_model_outside_the_allow_list_is_refused(sdk, new_key, fake):
    _, secret = new_key(models=["mistralai/mistral-7b-instruct:free"])
    with pytest.raises(openai.PermissionDeniedError) as err:
        sdk(secret).chat.completions.create(
            model=FREE, messages=[{"role": "user", "content": "hi"}]
        )
    assert err.value.code == "model_not_allowed"
    assert fake.stats()["chat_calls"] == 0
    with pytest.raises(openai.NotFoundError) as err:
        sdk().chat.completions.create(model="no/such", messages=[{"role": "user", "content": "h"}])
    assert err.value.code == "model_not_found"


def test_worker_killed_mid_stream_ends_with_an_error_event_and_no_charge(live, sdk, fake, user):
    fake.scenario(FREE, deltas=[f"k{i} " for i in range(200)], interval=0.05)
    stream = sdk().chat.completions.create(
        model=FREE, messages=[{"role": "user", "content": "long"}], stream=True
    )
    received = []
    with pytest.raises(openai.APIError) as err:
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
            if len(received) == 4:
                live.kill_worker()
                live.restart_worker()
                mid = _mid(chunk.id)
                wait_for(lambda m=mid: _reaped(live, m), 60, 0.5, "the reaper to end the answer")
    assert err.value.code == "stream_interrupted" and "not charged" in err.value.message
    assert "".join(received).startswith("k0 k1 k2")
    assert tokens_of(user[0]["id"]) == {**tokens_of(user[0]["id"]), "balance": 10_000, "holds": {}}
    assert _entry(mid)["amount"] == 0
    assert reconcile() == []


def _reaped(live, mid: str) -> bool:
    live.reap()
    return ChatMessage.objects(id=mid).first().status == "interrupted"


def test_client_that_disconnects_is_charged_only_for_what_was_generated(live, fake, new_key):
    fake.scenario(FREE, deltas=[f"d{i} " for i in range(400)], interval=0.03, usage=False)
    res = requests.post(
        live.base_url + "/v1/chat/completions",
        json={"model": FREE, "messages": [{"role": "user", "content": "go"}], "stream": True},
        headers={"Authorization": f"Bearer {new_key()[1]}"},
        stream=True,
        timeout=30,
    )
    lines = res.iter_lines(decode_unicode=True)
    data = [line for line in (next(lines) for _ in range(12)) if line.startswith("data: {")]
    mid = _mid(json.loads(data[0][6:])["id"])
    res.close()
    _assert_cancelled_and_charged_for_what_was_sent(mid)


def test_a_waiting_client_that_hangs_up_cancels_its_answer(live, fake, new_key, user):
    """Non-streaming: nothing is written while the answer runs, so the server must notice the
    closed connection itself; the answer stops and is charged only for what was generated."""
    fake.scenario(FREE, deltas=[f"d{i} " for i in range(400)], interval=0.03, usage=False)
    body = json.dumps({"model": FREE, "messages": [{"role": "user", "content": "go"}]})
    host, port = live.base_url.removeprefix("http://").split(":")
    conn = socket.create_connection((host, int(port)), timeout=30)
    conn.sendall(
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {new_key()[1]}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}".encode()
    )

    def streaming():
        msg = ChatMessage.objects(userId__in=[ObjectId(user[0]["id"])], role="assistant").first()
        return (
            msg if msg and msg.status == "streaming" and channel.chunk_count(str(msg.id)) else None
        )

    mid = str(wait_for(streaming, 30, 0.05, "the answer to start").id)
    conn.close()
    _assert_cancelled_and_charged_for_what_was_sent(mid)


def _assert_cancelled_and_charged_for_what_was_sent(mid: str) -> None:
    """A 400-delta answer whose client left early: cancelled part-way, charged less than its
    hold, the charge in the ledger, the wallet whole."""
    wait_for(lambda: channel.has_final(mid), 30, 0.1, "the answer to be cancelled")
    msg = ChatMessage.objects(id=mid).first()
    assert msg.status == "cancelled" and 0 < msg.lastSeq < 400
    assert 0 < msg.charged < msg.reserved
    assert _entry(mid)["amount"] == -msg.charged
    assert reconcile() == []


def test_twenty_concurrent_streams_on_a_small_balance_never_overdraw(sdk, fake, user):
    fake.scenario(FREE, deltas=["a ", "b "], first_delay=3.0, interval=0.01)
    uid = user[0]["id"]
    set_balance(uid, 5_500)
    client = sdk()

    def one(_):
        try:
            stream = client.chat.completions.create(
                model=FREE,
                messages=[{"role": "user", "content": "count me"}],
                max_tokens=1000,
                stream=True,
                stream_options={"include_usage": True},
            )
            return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        except openai.APIStatusError as exc:
            return exc.status_code

    started = time.monotonic()
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(one, range(20)))
    answered = [r for r in results if r == "a b "]
    assert len(answered) == 5 and sorted(set(map(str, results))) == ["402", "a b "], results
    assert time.monotonic() - started < 30
    after = tokens_of(uid)
    charged = sum(m.charged for m in ChatMessage.objects(role="assistant"))
    assert after["holds"] == {} and after["balance"] == 5_500 - charged >= 0
    assert reconcile() == []


def test_daily_limit_is_429_with_retry_after_until_midnight(sdk, fake, user):
    from common.users.models import User

    fake.scenario(FREE, deltas=["ok"])
    User.objects(id=user[0]["id"]).update_one(set__subscription__limits__requestsPerDay=1)
    client = sdk()
    ask = {"model": FREE, "messages": [{"role": "user", "content": "hi"}]}
    client.chat.completions.create(**ask)
    with pytest.raises(openai.RateLimitError) as err:
        client.chat.completions.create(**ask)
    assert err.value.code == "daily_limit"
    assert 0 < int(err.value.response.headers["Retry-After"]) <= 86_401


def test_bad_requests_are_400_in_openai_shape(live, new_key):
    headers = {"Authorization": f"Bearer {new_key()[1]}"}
    url = live.base_url + "/v1/chat/completions"
    for body in (
        {"model": FREE},
        {"model": FREE, "messages": []},
        {"model": FREE, "messages": [{"role": "tool", "content": "x"}]},
        {"model": FREE, "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
        {"model": FREE, "messages": [{"role": "user", "content": "x"}], "n": 2},
        {"model": FREE, "messages": [{"role": "user", "content": "x"}], "max_tokens": 10**6},
        {"model": FREE, "messages": [{"role": "user", "content": "x"}], "temperature": "hot"},
    ):
        res = requests.post(url, json=body, headers=headers, timeout=30)
        error = res.json()["error"]
        assert res.status_code == 400, body
        assert error["type"] == "invalid_request_error" and error["message"], body
    res = requests.get(live.base_url + "/v1/chat/completions", headers=headers, timeout=30)
    assert res.status_code == 405 and "error" in res.json()


def test_legacy_completions_are_answered_by_the_chat_path(sdk, fake, new_key, user):
    fake.scenario(FREE, deltas=WORDS, usage=USAGE, interval=0.01)
    key, secret = new_key()
    client = sdk(secret)
    answer = client.completions.create(model=FREE, prompt="Once upon a time", max_tokens=50)
    assert answer.object == "text_completion" and answer.model == FREE
    assert answer.choices[0].text == "".join(WORDS) and answer.choices[0].finish_reason == "stop"
    assert answer.usage.total_tokens == 23
    mid = answer.id.removeprefix("cmpl-")
    sent = fake.stats()["last_requests"][-1]
    assert sent["messages"] == [{"role": "user", "content": "Once upon a time"}]
    assert sent["max_tokens"] == 50
    assert ChatMessage.objects.get(id=mid).receipt["charged"] == 23
    assert _entry(mid)["source"] == "api" and _entry(mid)["amount"] == -23
    stream = client.completions.create(
        model=FREE,
        prompt=["A list of one prompt"],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "".join(WORDS)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 23
    assert all(c.object == "text_completion" for c in chunks)
    # OpenAI's default max_tokens for this API is 16: the hold is sized for it.
    client.completions.create(model=FREE, prompt="short")
    assert fake.stats()["last_requests"][-1]["max_tokens"] == 16
    assert tokens_of(user[0]["id"])["balance"] == 10_000 - 3 * 23
    assert reconcile() == []
    with pytest.raises(openai.BadRequestError) as err:
        client.completions.create(model=FREE, prompt="x", echo=True)
    assert err.value.param == "echo"


def test_models_created_is_when_the_model_entered_the_catalog(sdk):
    from common.catalog.models import AIModel
    from common.stored import as_utc

    client = sdk()
    first = {m.id: m.created for m in client.models.list()}
    time.sleep(1.1)
    again = {m.id: m.created for m in client.models.list()}
    assert first == again and client.models.retrieve(FREE).created == first[FREE]
    added = as_utc(AIModel.objects.get(modelId=FREE).createdAt)
    assert first[FREE] == int(added.timestamp()) < time.time() - 1


def test_field_errors_reach_the_sdk_with_their_param(sdk):
    client = sdk()
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model=FREE,
            messages=[
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": "b"},
                {"role": "function", "content": "c"},
            ],
        )
    assert err.value.param == "messages.2.role" and err.value.code == "validation_error"
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model=FREE,
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}],
                }
            ],
        )
    # An image for a model that does not take images (its catalog `capabilities`).
    assert err.value.param == "messages.0.content.0"
    assert err.value.code == "unsupported_parameter" and "image input" in err.value.message
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model=FREE,
            messages=[{"role": "user", "content": [{"type": "video_url", "video_url": {}}]}],
        )
    assert err.value.param == "messages.0.content.0" and err.value.code == "validation_error"
    assert "'video_url' are not supported" in err.value.message


def test_a_capped_key_sees_its_tokens_left_in_openai_headers(sdk, fake, new_key):
    fake.scenario(FREE, deltas=WORDS, usage=USAGE)
    _, secret = new_key(dailyTokenCap=1000)
    raw = sdk(secret).chat.completions.with_raw_response.create(
        model=FREE, messages=[{"role": "user", "content": "hi"}], max_tokens=100
    )
    h = raw.headers
    assert raw.parse().usage.total_tokens == 23
    assert h["x-ratelimit-limit-requests"] == "5000" and h["x-ratelimit-limit-tokens"] == "1000"
    # The headers are written as the answer is sent: the hold still counts as spent.
    assert int(h["x-ratelimit-remaining-tokens"]) <= 1000 - 23
    wait_for(
        lambda: (
            sdk(secret).models.with_raw_response.list().headers["x-ratelimit-remaining-tokens"]
            == str(1000 - 23)
        ),
        10,
        0.1,
        "the hold's rest given back",
    )
