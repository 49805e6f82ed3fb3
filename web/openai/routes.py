"""The OpenAI-compatible API: `GET /v1/models`, `POST /v1/chat/completions`.

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
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from flask import Blueprint, Response, g, jsonify, stream_with_context

from common.apikeys import service as keys
from common.apikeys.errors import ModelNotFound
from common.catalog import cache as catalog_cache
from common.catalog import service as catalog
from common.engine.cancel import cancel_message
from common.engine.errors import MessageFailed
from common.errors import AppError, ValidationError
from config import get_settings
from web.chat.commands import send_turn
from web.extensions import limiter
from web.hangup import HANG_UP_CHECK_SECONDS, client_hung_up
from web.openai import auth
from web.openai.errors import body_for
from web.openai.schemas import (
    ChatCompletionBody,
    ChatCompletionOut,
    ModelListOut,
    ModelOut,
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
ERRORS = (400, 401, 402, 403, 404, 429, 502, 503)
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
    errors=(401, 429),
    error_shape="OpenAIError",
)
def list_models():
    models = [m for m in catalog.catalog() if keys.allows(g.api_key, m["modelId"])]
    created = int(time.time())
    data = [_model_out(m, created) for m in models if m.get("isAvailable", True)]
    return jsonify({"object": "list", "data": data})


def _model_out(model: dict, created: int) -> dict[str, Any]:
    return {
        "id": model["modelId"],
        "object": "model",
        "created": created,
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
    errors=(401, 404, 429),
    error_shape="OpenAIError",
)
def get_model(model_id: str):
    for m in catalog.catalog():
        if m["modelId"] == model_id and keys.allows(g.api_key, model_id):
            return jsonify(_model_out(m, int(time.time())))
    raise ModelNotFound(model_id)


@bp.post("/chat/completions")
@auth.api_key_required
@operation(
    "Create a chat completion (OpenAI's Chat Completions API)",
    tags=TAGS,
    body=ChatCompletionBody,
    responses={200: ChatCompletionOut},
    auth=API_KEY,
    envelope=False,
    stream=True,
    errors=ERRORS,
    error_shape="OpenAIError",
    description="With `stream: true` the answer is server-sent events: `chat.completion.chunk` "
    "objects (text as `delta.content`, tool calls as `delta.tool_calls` fragments), a usage "
    "chunk when `stream_options.include_usage` is true, then `data: [DONE]`. The response waits "
    "for the first token: a failure before it is the same HTTP error as without streaming; a "
    'failure after it is one `data: {"error": {...}}` event. See docs/openai.md.',
)
def chat_completions():
    body = parse_body(ChatCompletionBody)
    _check(body)
    # Its answer is the request's API usage record, kept with the request's id.
    cmd = replace(body.command(g.user, g.api_key), request_id=g.request_id)
    follows: dict[str, Follow] = {}
    try:  # follow the answer from before its task is sent: nothing to read back
        result = send_turn(cmd, lambda mid: follows.setdefault(mid, Follow(mid, fresh=True)).open())
    except BaseException:
        _close_all(follows)
        raise
    msg = result.messages[0]
    follow = None if result.replayed else follows.pop(str(msg.id), None)
    _close_all(follows)  # an earlier send's answers (a replay) are read back instead
    follow = follow or Follow(str(msg.id)).open()
    meta = {
        "id": f"chatcmpl-{msg.id}",
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
        stream = _stream(follow, first, uid, meta, body.wants_usage)
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        res = Response(stream_with_context(stream), mimetype="text/event-stream", headers=headers)
        res.call_on_close(follow.close)  # also if the response is closed before it is iterated
        return res
    with follow:
        final = _wait_final(follow, mid, uid)
    meta["model"] = final.get("modelId") or body.model
    return jsonify(_completion(final, meta))


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


def _check(body: ChatCompletionBody) -> None:
    limit = get_settings().max_tokens_per_request
    if (body.limit() or 0) > limit:
        field = "max_completion_tokens" if body.max_completion_tokens else "max_tokens"
        raise ValidationError(f"{field}: must be at most {limit}", {"field": field, "max": limit})
    try:
        catalog_cache.model(body.model)
    except ValidationError:
        raise ModelNotFound(body.model) from None
    keys.check_model(g.api_key, body.model)
    chars = sum(len(m.text()) for m in body.messages)
    if chars > get_settings().max_message_chars * 4:
        raise ValidationError("messages: the conversation is too long", {"field": "messages"})


def _finish_reason(final: dict, meta: dict) -> str:
    if final.get("toolCalls"):
        return "tool_calls"
    if final.get("finishReason") in ("length", "content_filter"):
        return final["finishReason"]
    completion = (final.get("usage") or {}).get("completionTokens", 0)
    return "length" if meta["limit"] and completion >= meta["limit"] else "stop"


def _completion(final: dict, meta: dict) -> dict[str, Any]:
    if final.get("type") != "done":
        raise _failure(final)
    calls = final.get("toolCalls")
    message: dict[str, Any] = {
        "role": "assistant",
        "content": final.get("content", "") if final.get("content") or not calls else None,
        "refusal": None,
    }
    if calls:
        message["tool_calls"] = calls
    return {
        "id": meta["id"],
        "object": "chat.completion",
        "created": meta["created"],
        "model": meta["model"],
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": _finish_reason(final, meta),
                "logprobs": None,
            }
        ],
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


def _chunk(meta: dict, delta: dict, finish: str | None = None) -> dict[str, Any]:
    return {
        "id": meta["id"],
        "object": "chat.completion.chunk",
        "created": meta["created"],
        "model": meta["model"],
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }


def _stream(
    follow: Follow, first: list[dict], user_id: str, meta: dict, include_usage: bool
) -> Iterator[str]:
    """SSE for one answer, from its `first` frames on (`follow` is open; this closes it): the
    frames that arrived together go out in one write, the first ones with the role chunk. If
    the client goes away before the end (the write fails and the server closes this generator),
    the answer is cancelled: charged only for what was made."""
    ended = False
    message_id = follow.message_id
    try:
        role = _event(_chunk(meta, {"role": "assistant", "content": ""}))
        batches = itertools.chain([first], follow.batches(keepalive=KEEPALIVE_SECONDS))
        try:
            for batch in batches:
                if not batch:
                    yield ": keep-alive\n\n"
                    continue
                events = [role] if role else []
                role = ""
                for frame in batch:
                    if frame["type"] == "chunk":
                        events.append(_event(_chunk(meta, _delta(frame))))
                    else:
                        ended = True
                        events.extend(_final_events(frame, meta, include_usage))
                yield "".join(events)
        except AppError as exc:  # the stream went silent: tell the client, then stop
            yield _event(body_for(exc))
    finally:
        follow.close()
        if not ended:
            _cancel_quietly(user_id, message_id)


def _delta(frame: dict) -> dict[str, Any]:
    """A chunk frame as OpenAI's `delta`: text, or one fragment of a tool call."""
    if "toolCall" in frame:
        return {"tool_calls": [frame["toolCall"]]}
    return {"content": frame.get("delta", "")}


def _final_events(frame: dict, meta: dict, include_usage: bool) -> Iterator[str]:
    if frame["type"] == "error":
        yield _event(body_for(_failure(frame)))
        return
    yield _event(_chunk(meta, {}, _finish_reason(frame, meta)))
    if include_usage:
        usage = _chunk(meta, {})
        usage["choices"] = []
        usage["usage"] = usage_out(frame)
        yield _event(usage)
    yield _event("[DONE]")


def _cancel_quietly(user_id: str, message_id: str) -> None:
    try:
        cancel_message(user_id, message_id)
    except Exception:
        log.warning("could not cancel %s after its client left", message_id, exc_info=True)
