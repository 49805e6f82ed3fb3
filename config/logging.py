"""Logging setup shared by web and worker processes, and the ids every log line carries.

`LOG_FORMAT=json` writes one JSON object a line (`ts`, `level`, `logger`, `pid`, `msg`, and
`requestId` / `messageId` when known); `text` (the default) is the classic one-line format with
the same ids appended. The ids live in context variables (one copy per greenlet or thread), set
by the web tier for each request (`X-Request-ID`) and by the worker for each task, so one answer
can be followed from the send on a web process to its worker: grep for its `messageId`.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
message_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("message_id", default=None)

TASK_REQUEST_ID_HEADER = "requestId"  # the Celery task header carrying it to the worker
TEXT_FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s%(ids)s"


@contextlib.contextmanager
def log_context(*, request: str | None = None, message: str | None = None) -> Iterator[None]:
    """Tag every log line inside the block with these ids (None keeps the current one)."""
    tokens = []
    if request is not None:
        tokens.append((request_id, request_id.set(request)))
    if message is not None:
        tokens.append((message_id, message_id.set(message)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class ContextIds(logging.Filter):
    """Copies the current ids onto each record (`requestId`, `messageId`, and `ids` for text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = getattr(record, "requestId", None) or request_id.get()
        mid = getattr(record, "messageId", None) or message_id.get()
        record.requestId, record.messageId = rid, mid
        parts = [f"requestId={rid}" if rid else "", f"messageId={mid}" if mid else ""]
        record.ids = "".join(f" [{p}]" for p in parts if p)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line; extra fields passed with `extra={...}` are kept."""

    _STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "ids"}

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self._STANDARD and value is not None:
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at the time (test runners swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Install our one stream handler on the root logger (replacing ours from an earlier call)."""
    handler = _StderrHandler()
    handler.addFilter(ContextIds())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_aipasta", False):
            root.removeHandler(old)
    handler._aipasta = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
