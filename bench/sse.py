"""The one asyncio SSE client every benchmark uses for every target (the provider directly,
LiteLLM, AI Pasta's `/v1`), so their figures differ only by what sits between client and provider.

A `Target` keeps one aiohttp connection pool for the whole benchmark, as an SDK keeps its
client: rounds after the first reuse the connections the earlier ones opened (a server that
closes an idle pooled connection under the client shows up as an errored stream, as it would
for a real SDK). A stream is timed from the request to its first content delta (TTFT) and to its
last (the streaming phase); deltas are kept so lost or duplicated ones can be counted.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import aiohttp


@dataclass
class StreamResult:
    ttft: float | None = None  # seconds from the request to the first content delta
    phase: float | None = None  # seconds from the first content delta to the last
    deltas: list[str] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # wall-clock time each delta arrived
    usage: dict | None = None  # the usage chunk, when the server sent one
    error: str | None = None  # why the stream failed (HTTP status, an error event, a reset)


class Target:
    """One server's `/chat/completions`, with its own pool; `headers` per stream (API keys)."""

    def __init__(self, name: str, url: str, pool: int = 1000):
        self.name, self.url = name, url
        self._pool = pool
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Target:
        connector = aiohttp.TCPConnector(limit=self._pool, keepalive_timeout=300)
        timeout = aiohttp.ClientTimeout(total=300, sock_connect=30)
        self.session = aiohttp.ClientSession(connector=connector, timeout=timeout)
        return self

    async def __aexit__(self, *exc) -> None:
        assert self.session is not None
        await self.session.close()

    async def stream(self, body: dict, headers: dict | None = None) -> StreamResult:
        assert self.session is not None
        out = StreamResult()
        t0 = time.perf_counter()
        last = None
        try:
            async with self.session.post(self.url, json=body, headers=headers) as res:
                if res.status != 200:
                    out.error = f"HTTP {res.status}: {(await res.text())[:200]}"
                    return out
                async for raw in res.content:
                    line = raw.strip()
                    if not line.startswith(b"data: ") or line == b"data: [DONE]":
                        continue
                    chunk = json.loads(line[6:])
                    if "error" in chunk:
                        out.error = f"error event: {json.dumps(chunk)[:200]}"
                        return out
                    if chunk.get("usage"):
                        out.usage = chunk["usage"]
                    choices = chunk.get("choices") or []
                    content = (choices[0].get("delta") or {}).get("content") if choices else None
                    if content:
                        last = time.perf_counter()
                        if out.ttft is None:
                            out.ttft = last - t0
                        out.deltas.append(content)
                        out.arrivals.append(time.time())
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            out.error = f"{type(exc).__name__}: {exc}"[:200]
            return out
        if out.ttft is None:
            out.error = "no content delta"
        else:
            out.phase = last - t0 - out.ttft
        return out

    async def warm(self, count: int, body: dict, headers: list[dict | None]) -> None:
        """Open `count` pooled connections (one stream each, all at once), untimed."""
        await asyncio.gather(*(self.stream(body, headers[i % len(headers)]) for i in range(count)))


async def burst(target: Target, body: dict, headers: list[dict | None]) -> list[StreamResult]:
    """One stream per entry of `headers`, all started at the same moment."""
    return list(await asyncio.gather(*(target.stream(body, h) for h in headers)))


async def one_by_one(
    target: Target, body: dict, count: int, headers: dict | None = None
) -> list[StreamResult]:
    """`count` streams one after another on the pool (the N = 1 figure)."""
    out = []
    for _ in range(count):
        out.append(await target.stream(body, headers))
        await asyncio.sleep(0.02)
    return out
