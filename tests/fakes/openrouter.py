"""A local HTTP server that speaks OpenRouter's wire format, scripted per model.

Providers are unreachable from test machines, so clients are tested against this over real HTTP.
It serves any path ending in `/models` (OpenRouter's list) and `/chat/completions` (SSE when
`stream: true`: comment lines, delta chunks, a finish chunk, a usage chunk, `data: [DONE]`).

Behaviour per model id is set through a control API on the root, so tests in other processes
can script it too:

    POST {root}/_fake/scenario  {"model": "<id>" | "*", ...spec}   (replaces that model's spec)
    POST {root}/_fake/reset                                         (specs, stats, model list)
    POST {root}/_fake/models    {"data": [...]}                     (replace the /models list)
    GET  {root}/_fake/stats     -> {models_calls, chat_calls, chat_by_model, disconnects,
                                    active_streams, max_active_streams, completed_streams,
                                    last_requests, last_headers}

Requests that offer `tools`, ask for `response_format` or send `image_url` parts are answered as
`tests.fakes.answers` says (tool calls, streamed as `delta.tool_calls` fragments with
`finish_reason: "tool_calls"`; JSON that fits the schema), and refused as OpenRouter refuses
them (404 "No endpoints found that support ...") when the model's `/models` entry does not list
`tools` / `response_format` / `structured_outputs` in `supported_parameters` or `image` in
`input_modalities`.

Spec keys (all optional): `deltas` (list of str; default `delta_count` (20) words echoed from the
prompt, or the tool calls / structured answer the request asks for), `tool_calls` (scripted
calls `[{"name", "arguments": {...}}]` instead of the planned ones), `first_delay`, `interval` (seconds), `usage` (dict merged over the computed one, or
false to omit the usage chunk), `finish_reason` ("stop"), `status` + `error` (str message or
dict merged into the error object, e.g. `{"metadata": {"reasons": [...]}}`) + `retry_after`,
`error_body` (a raw JSON body for the error, e.g. Hugging Face's `{"error": "...loading"}`),
`fail_times` (only the first N requests get the error), `midstream_error_after` (N deltas, then
an error chunk), `stall_after` (N deltas, then silence until the client leaves or
`stall_seconds`, default 60), `models_status` (make `/models` fail with this status; use model
"*" or any model), `stamp` (append `@<unix time of sending>|` to each delta), `hold` (send
nothing but keep-alive comments until `POST {root}/_fake/release`, so a benchmark can start every
stream at once). A spec for model "*" applies to models without their own.

Use it in-process (`with FakeOpenRouter() as fake: fake.base_url`) or as its own process:
`python -m tests.fakes.openrouter --port N` (prints `READY <base_url>` when listening).
"""

from __future__ import annotations

import argparse
import itertools
import json
import select
import socket
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from tests.fakes import answers
from tests.fakes.catalog_data import default_models

API_PREFIX = "/api/v1"
_ids = itertools.count(1)
_call_ids = itertools.count(1)
ARGUMENT_PIECE = 8  # characters of a tool call's arguments per streamed fragment


class _ClientGone(Exception):
    """The client closed the connection; stop writing."""


class _State:
    """Everything the handlers share; one lock guards it."""

    def __init__(self, api_key: str | None = None):
        self.lock = threading.Lock()
        self.api_key = api_key
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.models = default_models()
            self.specs: dict[str, dict] = {}
            self.seen: dict[str, int] = {}
            self.stats = {
                "models_calls": 0,
                "chat_calls": 0,
                "chat_by_model": {},
                "disconnects": 0,
                "active_streams": 0,
                "max_active_streams": 0,
                "completed_streams": 0,
            }
            self.last_requests: deque = deque(maxlen=50)
            self.last_headers: deque = deque(maxlen=50)
            self.released = threading.Event()  # for `hold` specs

    def spec_for(self, model: str) -> dict:
        return self.specs.get(model) or self.specs.get("*") or {}

    def models_status(self) -> int | None:
        for spec in self.specs.values():
            if spec.get("models_status"):
                return int(spec["models_status"])
        return None

    def bump(self, key: str, by: int = 1) -> None:
        with self.lock:
            self.stats[key] += by
            if key == "active_streams":
                peak = max(self.stats["max_active_streams"], self.stats["active_streams"])
                self.stats["max_active_streams"] = peak

    def record_chat(self, body: dict, headers: dict) -> int:
        """Count a chat request; returns how many this model has had (1 for the first)."""
        model = str(body.get("model", ""))
        with self.lock:
            self.stats["chat_calls"] += 1
            by_model = self.stats["chat_by_model"]
            by_model[model] = by_model.get(model, 0) + 1
            self.seen[model] = self.seen.get(model, 0) + 1
            self.last_requests.append(body)
            self.last_headers.append(headers)
            return self.seen[model]

    def snapshot(self) -> dict:
        with self.lock:
            return {
                **json.loads(json.dumps(self.stats)),
                "last_requests": list(self.last_requests),
                "last_headers": list(self.last_headers),
            }

    def entry_of(self, model: str) -> dict:
        with self.lock:
            for entry in self.models:
                if entry.get("id") == model:
                    return entry
        return {}

    def price_of(self, model: str) -> tuple[float, float]:
        pricing = self.entry_of(model).get("pricing") or {}
        return float(pricing.get("prompt", 0)), float(pricing.get("completion", 0))


def _prompt_text(body: dict) -> str:
    messages = body.get("messages") or []
    return " ".join(answers.text_of(m.get("content")) for m in messages if isinstance(m, dict))


def _default_deltas(body: dict, count: int) -> list[str]:
    """Deterministic words from the last message, so answers are predictable in tests."""
    messages = body.get("messages") or [{}]
    words = answers.text_of(messages[-1].get("content")).split() or ["echo"]
    return [("" if i == 0 else " ") + words[i % len(words)] for i in range(count)]


def _unsupported(entry: dict, body: dict) -> str | None:
    """What the model's listing says it does not take (OpenRouter answers 404 for it)."""
    if not entry:
        return None
    params = set(entry.get("supported_parameters") or [])
    for serving in entry.get("providers") or []:  # Hugging Face's listing, when playing it
        params |= {"tools"} if serving.get("supports_tools") else set()
        params |= {"structured_outputs"} if serving.get("supports_structured_output") else set()
    modalities = (entry.get("architecture") or {}).get("input_modalities") or ["text"]
    fmt = body.get("response_format") if isinstance(body.get("response_format"), dict) else {}
    if body.get("tools") and "tools" not in params:
        return "tool use"
    if fmt.get("type") == "json_schema" and "structured_outputs" not in params:
        return "structured outputs"
    if fmt.get("type") == "json_object" and not params & {"response_format", "structured_outputs"}:
        return "response format"
    if answers.image_parts(body) and "image" not in modalities:
        return "image input"
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenRouter/1.0"
    # Each SSE event is its own small write: without TCP_NODELAY, an event written while the
    # previous one is unacknowledged waits for the client's delayed ACK (~40 ms) on a reused
    # connection, as a real provider's server does not make it wait.
    disable_nagle_algorithm = True
    state: _State  # set on the subclass per server

    def log_message(self, format, *args):  # noqa: A002 (stdlib signature)
        """Quiet: tests and benchmarks make thousands of requests."""

    # -- plumbing -------------------------------------------------------------------------------

    def _read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return None

    def _send_json(self, status: int, payload: Any, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, str(value))
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, status: int, message: str, extra: dict | None = None, headers=None):
        self._send_json(
            status, {"error": {"code": status, "message": message, **(extra or {})}}, headers
        )

    def _client_gone(self, timeout: float) -> bool:
        """Wait up to `timeout`; True as soon as the client has closed its end."""
        poller = select.poll()
        poller.register(self.connection, select.POLLIN | select.POLLHUP | select.POLLERR)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if not poller.poll(remaining * 1000):
                return False
            try:
                if self.connection.recv(1, socket.MSG_PEEK) == b"":
                    return True
            except OSError:
                return True
            time.sleep(remaining)  # pipelined bytes, not a close: just wait out the delay
            return False

    def _pause(self, seconds: float) -> None:
        if seconds > 0 and self._client_gone(seconds):
            raise _ClientGone

    def _chunk(self, text: str) -> None:
        data = text.encode()
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        except OSError as exc:
            raise _ClientGone from exc

    def _event(self, payload: dict) -> None:
        self._chunk("data: " + json.dumps(payload) + "\n\n")

    # -- routing --------------------------------------------------------------------------------

    def do_GET(self):  # noqa: N802 (stdlib name)
        path = self.path.split("?")[0].rstrip("/")
        if path == "/_fake/stats":
            return self._send_json(200, self.state.snapshot())
        if path.endswith("/models"):
            return self._models()
        return self._send_error(404, f"No route {path}")

    def do_POST(self):  # noqa: N802 (stdlib name)
        path = self.path.split("?")[0].rstrip("/")
        body = self._read_json()
        if body is None:
            return self._send_error(400, "Invalid JSON body")
        if path.startswith("/_fake/"):
            return self._control(path, body)
        if path.endswith("/chat/completions"):
            return self._chat(body)
        return self._send_error(404, f"No route {path}")

    def _control(self, path: str, body: dict) -> None:
        state = self.state
        if path == "/_fake/reset":
            state.reset()
        elif path == "/_fake/scenario":
            spec = dict(body)
            model = str(spec.pop("model", "*"))
            with state.lock:
                state.specs[model] = spec
                state.seen.pop(model, None)
        elif path == "/_fake/models":
            with state.lock:
                state.models = list(body.get("data") or [])
        elif path == "/_fake/release":
            state.released.set()
        else:
            return self._send_error(404, f"No route {path}")
        return self._send_json(200, {"ok": True})

    def _authorised(self) -> bool:
        if not self.state.api_key:
            return True
        return self.headers.get("Authorization") == f"Bearer {self.state.api_key}"

    # -- the OpenRouter API ---------------------------------------------------------------------

    def _models(self) -> None:
        self.state.bump("models_calls")
        status = self.state.models_status()
        if status:
            return self._send_error(status, "Upstream catalog unavailable")
        with self.state.lock:
            payload = {"data": list(self.state.models)}
        return self._send_json(200, payload)

    def _chat(self, body: dict) -> None:
        headers = {k: self.headers.get(k) for k in ("Authorization", "HTTP-Referer", "X-Title")}
        count = self.state.record_chat(body, headers)
        if not self._authorised():
            return self._send_error(401, "No auth credentials found")
        model = str(body.get("model", ""))
        spec = self.state.spec_for(model)
        if spec.get("status") and count <= int(spec.get("fail_times") or 10**9):
            return self._scripted_error(spec)
        missing = _unsupported(self.state.entry_of(model), body)
        if missing:
            return self._send_error(404, f"No endpoints found that support {missing}.")
        calls = self._calls(spec, body)
        deltas = [] if calls else self._deltas(spec, body)
        try:
            self._pause(float(spec.get("first_delay") or 0))
            if body.get("stream"):
                self._stream(model, spec, body, deltas, calls)
            else:
                self._complete(model, spec, body, deltas, calls)
        except _ClientGone:
            self.close_connection = True
            self.state.bump("disconnects")

    def _scripted_error(self, spec: dict) -> None:
        status = int(spec["status"])
        headers = {"Retry-After": spec["retry_after"]} if spec.get("retry_after") else None
        if spec.get("error_body") is not None:
            return self._send_json(status, spec["error_body"], headers)
        error = spec.get("error")
        message, extra = f"Scripted error {status}", {}
        if isinstance(error, dict):
            extra = {k: v for k, v in error.items() if k != "message"}
            message = str(error.get("message", message))
        elif error:
            message = str(error)
        return self._send_error(status, message, extra, headers)

    @staticmethod
    def _deltas(spec: dict, body: dict) -> list[str]:
        if spec.get("deltas") is not None:
            return [str(d) for d in spec["deltas"]]
        structured = answers.structured_answer(body)
        if structured is not None:
            return [structured[i : i + 16] for i in range(0, len(structured), 16)]
        last = (body.get("messages") or [{}])[-1]
        if isinstance(last, dict) and last.get("role") == "tool":
            return [answers.tool_results_answer(body)]
        return _default_deltas(body, int(spec.get("delta_count") or 20))

    @staticmethod
    def _calls(spec: dict, body: dict) -> list[dict]:
        """The tool calls to answer with (`[{"id", "name", "arguments"}]`), or none."""
        if not answers.wants_tool_calls(body):
            return []
        if spec.get("tool_calls"):
            return [
                {
                    "id": f"call_{next(_call_ids)}",
                    "name": c["name"],
                    "arguments": json.dumps(c.get("arguments") or {}),
                }
                for c in spec["tool_calls"]
            ]
        return answers.planned_calls(body, _call_ids)

    def _usage(self, model: str, spec: dict, body: dict, completion_tokens: int) -> dict:
        prompt_tokens = max(1, len(_prompt_text(body)) // 4) + answers.image_tokens(body)
        prompt_price, completion_price = self.state.price_of(model)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "cost": round(prompt_tokens * prompt_price + completion_tokens * completion_price, 12),
        }
        if isinstance(spec.get("usage"), dict):
            usage.update(spec["usage"])
        return usage

    def _base_chunk(self, model: str, gen_id: str) -> dict:
        return {
            "id": gen_id,
            "provider": "Fake",
            "model": model,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
        }

    def _stream(
        self, model: str, spec: dict, body: dict, deltas: list[str], calls: list[dict]
    ) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.state.bump("active_streams")
        try:
            if calls:
                self._stream_calls(model, spec, body, calls)
            else:
                self._stream_body(model, spec, body, deltas)
        finally:
            self.state.bump("active_streams", -1)

    def _stream_body(self, model: str, spec: dict, body: dict, deltas: list[str]) -> None:
        gen_id = f"gen-fake-{next(_ids)}"
        base = self._base_chunk(model, gen_id)
        interval = float(spec.get("interval") or 0)
        error_after = spec.get("midstream_error_after")
        stall_after = spec.get("stall_after")
        self._chunk(": OPENROUTER PROCESSING\n\n")
        if spec.get("hold"):  # wait for POST /_fake/release, with keep-alive comments
            while not self.state.released.wait(5.0):
                self._chunk(": OPENROUTER PROCESSING\n\n")
        for index, text in enumerate(deltas):
            if error_after is not None and index >= int(error_after):
                return self._midstream_error(base)
            if stall_after is not None and index >= int(stall_after):
                return self._stall(spec)
            if index:
                self._pause(interval)
            if spec.get("stamp"):  # the send time, for benchmarks measuring the delay to a client
                text = f"{text}@{time.time():.6f}|"
            delta = {"role": "assistant", "content": text}
            self._event(
                {
                    **base,
                    "choices": [
                        {
                            "index": 0,
                            "delta": delta,
                            "finish_reason": None,
                            "native_finish_reason": None,
                        }
                    ],
                }
            )
        if error_after is not None:
            return self._midstream_error(base)
        if stall_after is not None:
            return self._stall(spec)
        self._finish_stream(base, model, spec, body, len(deltas))

    def _stream_calls(self, model: str, spec: dict, body: dict, calls: list[dict]) -> None:
        """Tool calls as OpenRouter streams them: per call, a first fragment with its `id`,
        `type` and function `name` (empty arguments), then the arguments in pieces."""
        base = self._base_chunk(model, f"gen-fake-{next(_ids)}")
        self._chunk(": OPENROUTER PROCESSING\n\n")
        sent = 0
        for index, call in enumerate(calls):
            head = {
                "index": index,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["name"], "arguments": ""},
            }
            fragments = [head] + [
                {
                    "index": index,
                    "function": {"arguments": call["arguments"][i : i + ARGUMENT_PIECE]},
                }
                for i in range(0, len(call["arguments"]), ARGUMENT_PIECE)
            ]
            for fragment in fragments:
                if sent:
                    self._pause(float(spec.get("interval") or 0))
                delta = {"role": "assistant", "content": None, "tool_calls": [fragment]}
                self._event(
                    {
                        **base,
                        "choices": [
                            {
                                "index": 0,
                                "delta": delta,
                                "finish_reason": None,
                                "native_finish_reason": None,
                            }
                        ],
                    }
                )
                sent += 1
        self._finish_stream(base, model, {"finish_reason": "tool_calls", **spec}, body, sent)

    def _finish_stream(self, base: dict, model: str, spec: dict, body: dict, sent: int) -> None:
        reason = spec.get("finish_reason", "stop")
        self._event(
            {
                **base,
                "choices": [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": ""},
                        "finish_reason": reason,
                        "native_finish_reason": reason,
                    }
                ],
            }
        )
        if spec.get("usage", True) is not False:
            self._event({**base, "choices": [], "usage": self._usage(model, spec, body, sent)})
        self._chunk("data: [DONE]\n\n")
        self._chunk("")  # the zero-length chunk ends the chunked body
        self.state.bump("completed_streams")

    def _midstream_error(self, base: dict) -> None:
        self._event(
            {
                **base,
                "error": {"code": "server_error", "message": "Provider disconnected unexpectedly"},
                "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
            }
        )
        self._chunk("")

    def _stall(self, spec: dict) -> None:
        if self._client_gone(float(spec.get("stall_seconds") or 60)):
            raise _ClientGone
        self.close_connection = True  # the stream never finished properly

    def _complete(
        self, model: str, spec: dict, body: dict, deltas: list[str], calls: list[dict]
    ) -> None:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(deltas)}
        reason = spec.get("finish_reason", "stop")
        completion_tokens = len(deltas)
        if calls:
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": c["id"],
                        "type": "function",
                        "function": {"name": c["name"], "arguments": c["arguments"]},
                    }
                    for c in calls
                ],
            }
            reason = "tool_calls"
            completion_tokens = sum(1 + -(-len(c["arguments"]) // ARGUMENT_PIECE) for c in calls)
        payload = {
            **self._base_chunk(model, f"gen-fake-{next(_ids)}"),
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": reason,
                    "native_finish_reason": reason,
                }
            ],
        }
        if spec.get("usage", True) is not False:
            payload["usage"] = self._usage(model, spec, body, completion_tokens)
        self._send_json(200, payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        """A client vanishing mid-request is normal here; don't print tracebacks."""


class FakeOpenRouter:
    """The fake on 127.0.0.1; `base_url` is what `OPENROUTER_BASE_URL` should be."""

    def __init__(self, port: int = 0, api_key: str | None = None):
        self.state = _State(api_key)
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._server = _Server(("127.0.0.1", port), handler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root + API_PREFIX

    def start(self) -> FakeOpenRouter:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeOpenRouter:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- the control API, in-process ------------------------------------------------------------

    def scenario(self, model: str = "*", **spec) -> None:
        with self.state.lock:
            self.state.specs[model] = spec
            self.state.seen.pop(model, None)

    def reset(self) -> None:
        self.state.reset()

    def set_models(self, models: list[dict]) -> None:
        with self.state.lock:
            self.state.models = list(models)

    def stats(self) -> dict:
        return self.state.snapshot()


class FakeOpenRouterClient:
    """The same control API over HTTP, for a fake running in another process."""

    def __init__(self, root: str):
        self.root = root.rstrip("/")
        if self.root.endswith(API_PREFIX):
            self.root = self.root[: -len(API_PREFIX)]
        self.base_url = self.root + API_PREFIX

    def _post(self, path: str, payload: dict) -> None:
        requests.post(self.root + path, json=payload, timeout=10).raise_for_status()

    def scenario(self, model: str = "*", **spec) -> None:
        self._post("/_fake/scenario", {"model": model, **spec})

    def reset(self) -> None:
        self._post("/_fake/reset", {})

    def set_models(self, models: list[dict]) -> None:
        self._post("/_fake/models", {"data": models})

    def release(self) -> None:
        self._post("/_fake/release", {})

    def stats(self) -> dict:
        res = requests.get(self.root + "/_fake/stats", timeout=10)
        res.raise_for_status()
        return res.json()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake OpenRouter API on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default=None, help="require this Bearer key on chat calls")
    args = parser.parse_args(argv)
    fake = FakeOpenRouter(args.port, api_key=args.api_key)
    print(f"READY {fake.base_url}", flush=True)
    try:
        fake._server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        fake._server.server_close()


if __name__ == "__main__":
    sys.exit(main())
