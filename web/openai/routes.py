"""The OpenAI-compatible API: `GET /v1/models`, `POST /v1/chat/completions` and the legacy
`POST /v1/completions` (its prompt is one user message; only the answer's shape differs: both
go through `_generate`, with the same fallbacks and the same errors before the first token).

A completion goes through the web client's own path (`common.sending.send`: validation, paywall,
daily limit, the key's caps, the hold, one pending assistant message, the Celery worker,
settlement), with the request's `messages` as the prompt and the key recorded on the message
(its ledger entry is marked as API usage). The answer reaches the response through the Redis
replay buffer and pub/sub (`web.openai.sse`).

A streamed answer holds its response (status and headers) until its first token or its first
failure: a failure before any token is answered exactly as without streaming (the same status
and error body, so SDKs raise the same class and retry alike), and nothing is charged. After the
first token, a failure is one in-stream error event.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from flask import Blueprint, Response, g, jsonify, stream_with_context

from common.apikeys import service as keys
from common.apikeys.errors import ModelNotFound
from common.catalog import cache as catalog_cache
from common.catalog import service as catalog
from common.engine.cancel import cancel_message
from common.engine.errors import MessageFailed
from common.errors import AppError, NotFound, ValidationError
from common.stored import as_utc
from config import get_settings
from web.chat.commands import send_turn
from web.extensions import limiter
from web.hangup import HANG_UP_CHECK_SECONDS, client_hung_up
from web.openai import auth
from web.openai.errors import body_for
from web.openai.schemas import (
    ChatCompletionBody,
    ChatCompletionChunkOut,
    ChatCompletionOut,
    CompletionBody,
    ModelListOut,
    ModelOut,
    Sampling,
    TextCompletionChunkOut,
    TextCompletionOut,
    usage_out,
)
from web.openai.sse import KEEPALIVE_SECONDS, Follow
from web.openapi import API_KEY, operation
from web.settings import current_settings
from web.validation import parse_body

log = logging.getLogger(__name__)

bp = Blueprint("openai", __name__, url_prefix="/v1")
limiter.limit(lambda: current_settings().rate_limit_api, key_func=auth.rate_limit_key)(bp)

TAGS = ("OpenAI-compatible",)
ERRORS = (402, 403, 404, 409, 502)
# What a stored failure's code means as an HTTP status (for a non-streaming answer).
_FAILURE_STATUS = {
    "STREAM_INTERRUPTED": 503,
    "PROVIDER_UNAVAILABLE": 503,
    "SERVICE_UNAVAILABLE": 503,
}


@bp.get("/models")
@auth.api_key_required
@operation(
    "The models this key may use",
    tags=TAGS,
    responses={200: ModelListOut},
    auth=API_KEY,
    envelope=False,
    error_shape="OpenAIError",
)
def list_models():
    models = [m for m in catalog.catalog() if keys.allows(g.api_key, m["modelId"])]
    data = [_model_out(m) for m in models if m.get("isAvailable", True)]
    return jsonify({"object": "list", "data": data})


def _model_out(model: dict) -> dict[str, Any]:
    """`created` is when the model entered our catalog (stable across requests)."""
    added = as_utc(model.get("addedAt")) or catalog.FALLBACK_ADDED_AT
    return {
        "id": model["modelId"],
        "object": "model",
        "created": int(added.timestamp()),
        "owned_by": model["provider"],
        "capabilities": model["capabilities"],
        "input_modalities": model["inputModalities"],
    }


@bp.get("/models/<path:model_id>")
@auth.api_key_required
@operation(
    "One model this key may use",
    tags=TAGS,
    responses={200: ModelOut},
    auth=API_KEY,
    envelope=False,
    error_shape="OpenAIError",
)
def get_model(model_id: str):
    for m in catalog.catalog():
        if m["modelId"] == model_id and keys.allows(g.api_key, model_id):
            return jsonify(_model_out(m))
    raise ModelNotFound(model_id)


_GENERATES = (
    "400 names the field at fault in `param` (`unsupported_parameter` for what the model does "
    "not take, by its catalog `capabilities`); 402 when the wallet cannot hold the prompt "
    "estimate and `max_tokens`; 403 for a paid model on the free plan or a model outside the "
    "key's allow-list; 404 for an unknown model (`param` `model` or `models.<i>`); 413 for a "
    "body over `MAX_BODY_BYTES`; 429 for the request rate, the plan's requests per day or the "
    "key's token cap; 502/503 when the provider (and every fallback) failed before the first "
    "token, streamed or not (nothing charged); 409 when the answer was cancelled meanwhile. "
    "See docs/openai.md."
)
_STREAMS = (
    "The response waits for the first token: a failure before it is the same HTTP error as "
    'without streaming; a failure after it is one `data: {"error": {...}}` event. '
)


@bp.post("/chat/completions")
@auth.api_key_required
@operation(
    "Create a chat completion (OpenAI's Chat Completions API)",
    tags=TAGS,
    body=ChatCompletionBody,
    responses={200: ChatCompletionOut},
    auth=API_KEY,
    envelope=False,
    stream=ChatCompletionChunkOut,
    errors=ERRORS,
    error_shape="OpenAIError",
    description="With `stream: true` the answer is server-sent events: `chat.completion.chunk` "
    "objects (text as `delta.content`, tool calls as `delta.tool_calls` fragments), a usage "
    "chunk when `stream_options.include_usage` is true, then `data: [DONE]`. "
    + _STREAMS
    + _GENERATES,
)
def chat_completions():
    return _generate(parse_body(ChatCompletionBody), CHAT)


@bp.post("/completions")
@auth.api_key_required
@operation(
    "Create a completion (OpenAI's legacy Completions API, answered by the chat model)",
    tags=TAGS,
    body=CompletionBody,
    responses={200: TextCompletionOut},
    auth=API_KEY,
    envelope=False,
    stream=TextCompletionChunkOut,
    errors=ERRORS,
    error_shape="OpenAIError",
    description="The prompt is sent to the model as one `user` message, through the same path, "
    "fallbacks, charges and receipts as a chat completion; `max_tokens` defaults to 16 as "
    "OpenAI's. With `stream: true`, server-sent `text_completion` events, then `data: [DONE]`. "
    + _STREAMS
    + _GENERATES,
)
def completions():
    return _generate(parse_body(CompletionBody), COMPLETION)


def _generate(body: Sampling, shape: Shape):
    _check(body)
    # Its answer is the request's API usage record, kept with the request's id.
    cmd = replace(body.command(g.user, g.api_key), request_id=g.request_id)
    follows: dict[str, Follow] = {}
    try:  # follow the answer from before its task is sent: nothing to read back
        result = send_turn(cmd, lambda mid: follows.setdefault(mid, Follow(mid, fresh=True)).open())
    except ValidationError as exc:
        _close_all(follows)
        raise _named_for(body, exc) from None
    except BaseException:
        _close_all(follows)
        raise
    msg = result.messages[0]
    follow = None if result.replayed else follows.pop(str(msg.id), None)
    _close_all(follows)  # an earlier send's answers (a replay) are read back instead
    follow = follow or Follow(str(msg.id)).open()
    meta = {
        "id": f"{shape.id_prefix}-{msg.id}",
        "created": int(time.time()),
        "model": body.model,
        "limit": msg.metadata.maxTokens,
    }
    mid, uid = str(msg.id), str(g.user.id)
    if body.stream:
        try:
            first = _first_batch(follow, mid, uid)
            if first[0]["type"] in ("error", "cancelled"):
                raise _failure(first[0])  # before any token: the non-streaming answer's error
        except BaseException:
            follow.close()
            raise
        meta["model"] = first[0].get("modelId") or body.model
        stream = _stream(follow, first, uid, meta, body.wants_usage, shape)
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        res = Response(stream_with_context(stream), mimetype="text/event-stream", headers=headers)
        res.call_on_close(follow.close)  # also if the response is closed before it is iterated
        return res
    with follow:
        final = _wait_final(follow, mid, uid)
    meta["model"] = final.get("modelId") or body.model
    return jsonify(_answer(final, meta, shape))


def _close_all(follows: dict[str, Follow]) -> None:
    for follow in follows.values():
        follow.close()
    follows.clear()


def _first_batch(follow: Follow, message_id: str, user_id: str) -> list[dict[str, Any]]:
    """The answer's first frames: those that came with its first chunk, or its final frame if
    none came. A client that hangs up meanwhile cancels the answer (its final frame then ends
    the wait)."""
    hung_up = client_hung_up()
    for batch in follow.batches(keepalive=HANG_UP_CHECK_SECONDS):
        if batch:
            return batch
        if hung_up():
            _cancel_quietly(user_id, message_id)
    raise AssertionError("a followed answer always ends with a final frame")


def _wait_final(follow: Follow, message_id: str, user_id: str) -> dict[str, Any]:
    """The answer's final frame. A client that hangs up while it waits cancels the answer, as a
    streaming client does: it is charged for what was generated until then, not for the rest."""
    hung_up = client_hung_up()
    checked = time.monotonic()
    for _ in follow.frames(keepalive=HANG_UP_CHECK_SECONDS):
        if checked is not None and time.monotonic() - checked >= HANG_UP_CHECK_SECONDS:
            checked = time.monotonic()
            if hung_up():
                _cancel_quietly(user_id, message_id)
                checked = None  # once; the cancelled answer's final frame ends the loop
    assert follow.final is not None
    return follow.final


def _check(body: Sampling) -> None:
    limit = get_settings().max_tokens_per_request
    if (body.limit() or 0) > limit:
        field = body.limit_param()
        raise ValidationError(f"{field}: must be at most {limit}", {"field": field, "max": limit})
    try:
        catalog_cache.model(body.model)
    except (NotFound, ValidationError):
        raise ModelNotFound(body.model) from None
    keys.check_model(g.api_key, body.model)
    field, chars = body.input_chars()
    if chars > get_settings().max_message_chars * 4:
        raise ValidationError(f"{field}: the conversation is too long", {"field": field})


def _named_for(body: Sampling, exc: ValidationError) -> ValidationError:
    """The send path names the conversation `messages`; a legacy completion calls it `prompt`."""
    field, _ = body.input_chars()
    if exc.details.get("field") != "messages" or field == "messages":
        return exc
    message = exc.message.replace("messages:", f"{field}:", 1)
    return ValidationError(message, {**exc.details, "field": field})


def _finish_reason(final: dict, meta: dict) -> str:
    if final.get("toolCalls"):
        return "tool_calls"
    if final.get("finishReason") in ("length", "content_filter"):
        return final["finishReason"]
    completion = (final.get("usage") or {}).get("completionTokens", 0)
    return "length" if meta["limit"] and completion >= meta["limit"] else "stop"


def _answer(final: dict, meta: dict, shape: Shape) -> dict[str, Any]:
    if final.get("type") != "done":
        raise _failure(final)
    return {
        "id": meta["id"],
        "object": shape.answer_object,
        "created": meta["created"],
        "model": meta["model"],
        "choices": [shape.choice(final, _finish_reason(final, meta))],
        "usage": usage_out(final),
        "system_fingerprint": None,
        "charged": final.get("charged", 0),
    }


def _failure(final: dict) -> AppError:
    if final.get("type") == "cancelled":
        return MessageFailed(
            {"code": "CANCELLED", "message": "The answer was cancelled.", "status": 409}
        )
    code = final.get("code") or "PROVIDER_ERROR"
    return MessageFailed(
        {
            "code": code,
            "message": final.get("message"),
            "details": final.get("details") or {},
            "status": _FAILURE_STATUS.get(code, 502),
        }
    )


# -- streaming ------------------------------------------------------------------------------------


def _event(payload: dict | str) -> str:
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {data}\n\n"


def _chunk(meta: dict, shape: Shape, choice: dict | None) -> dict[str, Any]:
    return {
        "id": meta["id"],
        "object": shape.chunk_object,
        "created": meta["created"],
        "model": meta["model"],
        "system_fingerprint": None,
        "choices": [choice] if choice is not None else [],
    }


def _stream(
    follow: Follow,
    first: list[dict],
    user_id: str,
    meta: dict,
    include_usage: bool,
    shape: Shape,
) -> Iterator[str]:
    """SSE for one answer, from its `first` frames on (`follow` is open; this closes it): the
    frames that arrived together go out in one write, the first ones with the opening chunk. If
    the client goes away before the end (the write fails and the server closes this generator),
    the answer is cancelled: charged only for what was made."""
    ended = False
    message_id = follow.message_id
    try:
        opening = _event(_chunk(meta, shape, shape.opening())) if shape.opening else ""
        batches = itertools.chain([first], follow.batches(keepalive=KEEPALIVE_SECONDS))
        try:
            for batch in batches:
                if not batch:
                    yield ": keep-alive\n\n"
                    continue
                events = [opening] if opening else []
                opening = ""
                for frame in batch:
                    if frame["type"] == "chunk":
                        events.append(_event(_chunk(meta, shape, shape.delta(frame))))
                    else:
                        ended = True
                        events.extend(_final_events(frame, meta, include_usage, shape))
                yield "".join(events)
        except AppError as exc:  # the stream went silent: tell the client, then stop
            yield _event(body_for(exc))
    finally:
        follow.close()
        if not ended:
            _cancel_quietly(user_id, message_id)


def _final_events(frame: dict, meta: dict, include_usage: bool, shape: Shape) -> Iterator[str]:
    if frame["type"] == "error":
        yield _event(body_for(_failure(frame)))
        return
    yield _event(_chunk(meta, shape, shape.ending(_finish_reason(frame, meta))))
    if include_usage:
        usage = _chunk(meta, shape, None)
        usage["usage"] = usage_out(frame)
        yield _event(usage)
    yield _event("[DONE]")


# -- the two answer shapes -------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """How one API shapes an answer: its ids, object names and choices."""

    id_prefix: str
    answer_object: str
    chunk_object: str
    choice: Callable[[dict, str], dict]  # (final frame, finish_reason) -> a non-streamed choice
    delta: Callable[[dict], dict]  # a chunk frame -> a streamed choice
    ending: Callable[[str], dict]  # finish_reason -> the last streamed choice
    opening: Callable[[], dict] | None = None  # the first streamed choice, if any


def _chat_choice(final: dict, finish: str) -> dict:
    calls = final.get("toolCalls")
    content = final.get("content", "")
    message: dict[str, Any] = {
        "role": "assistant",
        "content": content if content or not calls else None,
        "refusal": None,
    }
    if calls:
        message["tool_calls"] = calls
    return {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}


def _chat_delta(frame: dict) -> dict:
    """A chunk frame as OpenAI's `delta`: text, or one fragment of a tool call."""
    if "toolCall" in frame:
        delta: dict[str, Any] = {"tool_calls": [frame["toolCall"]]}
    else:
        delta = {"content": frame.get("delta", "")}
    return {"index": 0, "delta": delta, "finish_reason": None, "logprobs": None}


def _chat_ending(finish: str) -> dict:
    return {"index": 0, "delta": {}, "finish_reason": finish, "logprobs": None}


def _text_choice(text: str, finish: str | None = None) -> dict:
    return {"index": 0, "text": text, "finish_reason": finish, "logprobs": None}


CHAT = Shape(
    "chatcmpl",
    "chat.completion",
    "chat.completion.chunk",
    _chat_choice,
    _chat_delta,
    _chat_ending,
    opening=lambda: {
        "index": 0,
        "delta": {"role": "assistant", "content": ""},
        "finish_reason": None,
        "logprobs": None,
    },
)
COMPLETION = Shape(
    "cmpl",
    "text_completion",
    "text_completion",
    lambda final, finish: _text_choice(final.get("content", ""), finish),
    lambda frame: _text_choice(frame.get("delta", "")),
    lambda finish: _text_choice("", finish),
)


def _cancel_quietly(user_id: str, message_id: str) -> None:
    try:
        cancel_message(user_id, message_id)
    except Exception:
        log.warning("could not cancel %s after its client left", message_id, exc_info=True)
