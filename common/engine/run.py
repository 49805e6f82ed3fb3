"""One answer being run by this process: what it has generated, published and been told.

The state the run's parts share — the reading loop (`provider_call`), the publishing thread
(`publisher`), the lease heartbeat (`lease`) and the outcome (`outcomes`) — and the two ways a
run is stopped from outside: a cancel, or another runner taking the message over.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from common.conversations.models import ChatMessage
from common.providers.base import ToolCallDelta, Usage, assemble_tool_calls


@dataclass
class Run:
    msg: ChatMessage
    token: str
    started: float = field(default_factory=time.monotonic)
    first_at: float | None = None
    last_at: float | None = None
    seq: int = 0  # chunks published (stored in Redis); `parts` may run ahead during an outage
    # Every delta generated, in order: text, or a fragment of a tool call (each its own chunk).
    parts: list[str | ToolCallDelta] = field(default_factory=list)
    usage: Usage | None = None
    finish: str | None = None  # the provider's finish reason
    # The fallback that is answering ({"modelId", "rates"}), when not the message's own model.
    answered_by: dict | None = None
    lost: threading.Event = field(default_factory=threading.Event)
    hold: dict | None = None  # the wallet hold as the send placed it (settling reads nothing)

    @property
    def mid(self) -> str:
        return str(self.msg.id)

    @property
    def text(self) -> str:
        return "".join(p for p in self.parts if isinstance(p, str))

    @property
    def published(self) -> str:
        """The text its clients were sent (a cancel stops short of what is still queued)."""
        return "".join(p for p in self.parts[: self.seq] if isinstance(p, str))

    def tool_calls(self, published_only: bool = False) -> list[dict]:
        """The tool calls made (those its clients were sent, with `published_only`)."""
        parts = self.parts[: self.seq] if published_only else self.parts
        return assemble_tool_calls([p for p in parts if isinstance(p, ToolCallDelta)])


class Cancelled(Exception):
    """The user cancelled the answer: stop reading and charge what was sent."""


class Lost(Exception):
    """Another runner (the reaper) ended this message; stop without touching it."""
