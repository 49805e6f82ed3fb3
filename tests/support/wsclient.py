"""A small synchronous websocket client speaking DESIGN.md's protocol, for tests."""

from __future__ import annotations

import json
import time

import websocket


class WsClient:
    def __init__(self, url: str, token: str | None = None, timeout: float = 30.0):
        full = f"{url}?token={token}" if token else url
        self.ws = websocket.create_connection(full, timeout=timeout)
        self.frames: list[dict] = []
        self.chunk_times: list[float] = []  # when each chunk frame was read (monotonic)

    def send(self, **frame) -> None:
        self.ws.send(json.dumps(frame))

    def recv(self, timeout: float = 30.0) -> dict:
        self.ws.settimeout(timeout)
        frame = json.loads(self.ws.recv())
        self.frames.append(frame)
        if frame.get("type") == "chunk":
            self.chunk_times.append(time.monotonic())
        return frame

    def until(self, predicate, timeout: float = 60.0) -> dict:
        """Read frames until one matches; returns it (every frame read is kept in `frames`)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no matching frame; got {self.frames[-5:]}")
            frame = self.recv(left)
            if predicate(frame):
                return frame

    def finals(self, message_ids, timeout: float = 60.0) -> dict[str, dict]:
        """Read until every message in `message_ids` has its final frame."""
        wanted, got = set(message_ids), {}
        for f in self.frames:
            if f.get("messageId") in wanted and f["type"] in ("done", "error", "cancelled"):
                got[f["messageId"]] = f
        while set(got) != wanted:
            f = self.until(
                lambda f: (
                    f.get("messageId") in wanted and f["type"] in ("done", "error", "cancelled")
                ),
                timeout,
            )
            got[f["messageId"]] = f
        return got

    def chunks(self, message_id: str) -> list[dict]:
        return [f for f in self.frames if f["type"] == "chunk" and f["messageId"] == message_id]

    def close(self) -> None:
        self.ws.close()
