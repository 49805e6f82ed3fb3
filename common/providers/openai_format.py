"""The one OpenAI-format client that OpenRouter, Hugging Face and local servers share.

All three speak `GET {base}/models` and `POST {base}/chat/completions` with `stream: true`
answered as server-sent events. Subclasses change only what differs: headers, how a `/models`
entry becomes a `ModelInfo`, and the odd error shape.

Streaming reads the socket with `read1` (whatever has arrived, never waiting for a full buffer)
and hands the bytes to `sseclient-py`, which drops comment lines such as `: OPENROUTER
PROCESSING`. The read timeout is an idle timeout: it fires when nothing arrives for that long.
Closing the generator closes the response, and with it the connection, which is how the
provider learns to stop generating.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
import sseclient
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from common.providers.base import (
    ChatRequest,
    Event,
    Finish,
    ModelInfo,
    ModelUnavailable,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderFailure,
    ProviderModeration,
    ProviderOutOfCredits,
    ProviderRateLimited,
    ProviderStreamError,
    ProviderTimeout,
    ProviderUnavailableFailure,
    TextDelta,
    ToolCallDelta,
    Usage,
)

Failure = ProviderFailure | ProviderUnavailableFailure

_sessions: dict[int, requests.Session] = {}
_sessions_lock = threading.Lock()


def http_session() -> requests.Session:
    """This process's pooled session (a new one after a fork: sockets must not be shared)."""
    pid = os.getpid()
    session = _sessions.get(pid)
    if session is None:
        with _sessions_lock:
            session = _sessions.get(pid)
            if session is None:
                session = requests.Session()
                # A worker streams many answers at once; let each keep its pooled connection.
                adapter = HTTPAdapter(pool_connections=8, pool_maxsize=256)
                session.mount("http://", adapter)
                session.mount("https://", adapter)
                _sessions.clear()
                _sessions[pid] = session
    return session


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds; it may be a number or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def _error_payload(response: requests.Response) -> tuple[str, dict]:
    """The provider's error message and metadata, whichever shape the body has."""
    try:
        body = response.json()
    except ValueError:
        return (response.text or "").strip()[:500], {}
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or ""), {**body, **error}
    if isinstance(error, str):  # Hugging Face: {"error": "...", "estimated_time": 20.0}
        return error, body
    return json.dumps(body)[:500], body if isinstance(body, dict) else {}


def _is_moderation(message: str, payload: dict) -> bool:
    metadata = payload.get("metadata") or {}
    if isinstance(metadata, dict) and (metadata.get("reasons") or metadata.get("flagged_input")):
        return True
    return any(word in message.lower() for word in ("moderation", "flagged", "content policy"))


def error_for_status(status: int, message: str, payload: dict, retry_after: float | None):
    """Map an HTTP error answer to the failure class the chat flow understands."""
    details: dict[str, Any] = {"status": status, "providerMessage": message[:500]}
    if status == 429:
        return ProviderRateLimited(retry_after, details=details)
    if status == 402:
        return ProviderOutOfCredits(details=details)
    if status == 403 and _is_moderation(message, payload):
        metadata = payload.get("metadata") or {}
        return ProviderModeration(details={**details, "reasons": metadata.get("reasons") or []})
    if status in (401, 403):
        return ProviderAuthError(details=details)
    if status == 408:
        return ProviderTimeout(details=details)
    if status == 404 or status >= 500:
        if retry_after:
            details["retryAfter"] = retry_after
        return ModelUnavailable(details=details)
    return ProviderBadRequest(details=details)


def _read_chunks(raw: urllib3.response.HTTPResponse) -> Iterator[bytes]:
    """Bytes as they arrive; read timeouts and broken connections become typed failures."""
    while True:
        try:
            data = raw.read1(65536)
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError) as exc:
            raise ProviderTimeout(details={"during": "stream"}) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ProviderStreamError(details={"cause": type(exc).__name__}) from exc
        if not data:
            return
        yield data


def price_value(value: Any) -> float:
    """A listed price as a float, NaN when it is not a number (the catalog refuses NaN)."""
    if isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def parse_usage(usage: dict) -> Usage:
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    cost = usage.get("cost")
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=int(usage.get("total_tokens") or prompt + completion),
        cost=float(cost) if cost is not None else None,
    )


class OpenAIFormatClient:
    """A provider that speaks the OpenAI chat-completions format at `base_url`."""

    name = "openai"
    model_list_path = "/models"

    def __init__(
        self,
        base_url: str,
        api_key: str = "",
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
    ):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = (connect_timeout, read_timeout)

    @property
    def enabled(self) -> bool:
        return bool(self.base_url)

    # -- hooks for subclasses -------------------------------------------------------------------

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def request_body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            **request.extra,
            "model": request.model,
            "messages": request.messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        for key in ("temperature", "max_tokens", "top_p"):
            value = getattr(request, key)
            if value is not None:
                body[key] = value
        return body

    def model_info(self, entry: dict) -> ModelInfo:
        """A `/models` entry in the plain OpenAI shape (vLLM adds `max_model_len`)."""
        model_id = str(entry["id"])
        context = entry.get("context_length") or entry.get("max_model_len") or 4096
        return ModelInfo(
            model_id=model_id,
            name=str(entry.get("name") or model_id),
            provider=self.name,
            description=str(entry.get("description") or ""),
            context_window=int(context),
            capabilities=guess_capabilities(model_id),
        )

    def failure_for(self, response: requests.Response) -> Failure:
        message, payload = _error_payload(response)
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        return error_for_status(response.status_code, message, payload, retry_after)

    # -- the Provider protocol ------------------------------------------------------------------

    def list_models(self) -> list[ModelInfo]:
        if not self.enabled:
            return []
        response = self._send("GET", self.base_url + self.model_list_path, stream=False)
        try:
            entries = response.json().get("data") or []
        except (ValueError, AttributeError) as exc:
            raise ModelUnavailable("The provider's model list is not valid JSON.") from exc
        return [self.model_info(e) for e in entries if isinstance(e, dict) and e.get("id")]

    def stream_chat(self, request: ChatRequest) -> Iterator[Event]:
        if not self.enabled:
            raise ModelUnavailable(f"The {self.name} provider is not configured.")
        url = self.base_url + "/chat/completions"
        response = self._send("POST", url, json=self.request_body(request), stream=True)
        try:
            yield from self._events(response)
        finally:
            response.close()

    # -- internals ------------------------------------------------------------------------------

    def _send(self, method: str, url: str, **kwargs) -> requests.Response:
        try:
            response = http_session().request(
                method, url, headers=self.headers(), timeout=self.timeout, **kwargs
            )
        except requests.Timeout as exc:
            raise ProviderTimeout(details={"during": "connect"}) from exc
        except requests.RequestException as exc:
            raise ModelUnavailable(
                "We could not reach this model's provider. Try again shortly or pick another model.",
                details={"cause": type(exc).__name__},
            ) from exc
        if response.status_code >= 400:
            try:
                raise self.failure_for(response)
            finally:
                response.close()
        return response

    def _events(self, response: requests.Response) -> Iterator[Event]:
        """Deltas as they come; usage, then finish, once the stream has ended cleanly."""
        usage: Usage | None = None
        finish: str | None = None
        done = False
        for event in sseclient.SSEClient(_read_chunks(response.raw)).events():
            if done:
                continue  # read to the end so the connection goes back to the pool
            if event.data.strip() == "[DONE]":
                done = True
                continue
            chunk = _decode(event.data)
            if chunk.get("error"):
                raise _stream_failure(chunk["error"])
            if isinstance(chunk.get("usage"), dict):
                usage = parse_usage(chunk["usage"])
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                text = delta.get("content")
                if text:
                    yield TextDelta(text)
                yield from _tool_call_deltas(delta.get("tool_calls"))
                if choice.get("finish_reason") == "error":
                    raise ProviderStreamError(details={"finishReason": "error"})
                finish = choice.get("finish_reason") or finish
        if not done and finish is None:
            raise ProviderStreamError("The provider's answer ended before it finished.")
        if usage is not None:
            yield usage
        yield Finish(finish or "stop")


def _tool_call_deltas(items: Any) -> Iterator[ToolCallDelta]:
    """`delta.tool_calls` fragments; a provider that omits `index` on a lone call means 0."""
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        function = item.get("function") if isinstance(item.get("function"), dict) else {}
        index = item.get("index")
        yield ToolCallDelta(
            index=index if isinstance(index, int) else 0,
            id=str(item["id"]) if item.get("id") else None,
            name=str(function["name"]) if function.get("name") else None,
            arguments=str(function.get("arguments") or ""),
        )


def features_from(supported_parameters: Any) -> tuple[str, ...]:
    """What a model takes, from OpenRouter's `supported_parameters`: `tools` means tool calling,
    `response_format` JSON mode, `structured_outputs` JSON-schema output (which implies JSON
    mode)."""
    params = set(supported_parameters) if isinstance(supported_parameters, list) else set()
    features = []
    if "tools" in params:
        features.append("tools")
    if "response_format" in params or "structured_outputs" in params:
        features.append("json_object")
    if "structured_outputs" in params:
        features.append("json_schema")
    return tuple(features)


def modalities_from(value: Any) -> tuple[str, ...]:
    """Input modalities as listed (`["text", "image"]`), text when the entry says nothing."""
    if not isinstance(value, list) or not value:
        return ("text",)
    return tuple(str(m) for m in value if isinstance(m, str)) or ("text",)


def _decode(data: str) -> dict:
    try:
        chunk = json.loads(data)
    except ValueError as exc:
        raise ProviderStreamError(details={"badChunk": data[:200]}) from exc
    return chunk if isinstance(chunk, dict) else {}


def _stream_failure(error: Any) -> ProviderStreamError:
    if isinstance(error, dict):
        details = {"code": error.get("code"), "providerMessage": str(error.get("message", ""))}
    else:
        details = {"providerMessage": str(error)}
    return ProviderStreamError(details=details)


def guess_capabilities(model_id: str, modalities: list[str] | None = None) -> tuple[str, ...]:
    """The guide's capability tags (`text`, `image`, `code`, `reasoning`) from what we know."""
    lowered = model_id.lower()
    caps = ["text"]
    if modalities and "image" in modalities:
        caps.append("image")
    if any(word in lowered for word in ("coder", "code", "deepcoder", "codestral")):
        caps.append("code")
    if any(word in lowered for word in ("r1", "qwq", "o1", "reason", "think")):
        caps.append("reasoning")
    return tuple(caps)
