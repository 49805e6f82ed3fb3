"""The rate limit's response headers, written here rather than by flask-limiter.

`/api` answers carry `X-RateLimit-Limit`, `-Remaining` and `-Reset` (seconds until the window
resets). `/v1` answers carry OpenAI's names: `x-ratelimit-limit-requests`, `-remaining-requests`,
`-reset-requests` (a duration, `12s`, `1m5s`) for the request rate (`RATE_LIMIT_API` per key),
and, for a key with a token cap, `x-ratelimit-limit-tokens`, `-remaining-tokens`,
`-reset-tokens` for the tighter of its daily and monthly caps (wallet tokens; holds of answers
in flight count as spent until they settle).

A 429 carries one `Retry-After`, in whole seconds: for the request rate it is the same number as
the window's reset (computed once per request, so the two never disagree by a second).
"""

from __future__ import annotations

import math
import time

from flask import Flask, Response, g

from web.extensions import limiter
from web.openai import errors as openai_errors


def reset_seconds() -> int | None:
    """Seconds until the request rate's window resets (the breached one during a 429), once
    per request. `reset_at` is rounded up a second by flask-limiter, so it is capped at the
    window."""
    if "rate_reset" not in g:
        limit = limiter.current_limit
        g.rate_reset = None
        if limit is not None:
            wait = math.ceil(limit.reset_at - time.time())
            g.rate_reset = max(1, min(wait, limit.limit.get_expiry()))
    return g.rate_reset


def duration(seconds: int) -> str:
    """OpenAI's form of a reset: `7s`, `1m5s`, `3h0m0s`."""
    hours, rest = divmod(max(0, int(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def init_rate_headers(app: Flask) -> None:
    app.after_request(_write)


def _write(response: Response) -> Response:
    limit = limiter.current_limit if limiter.enabled else None
    if openai_errors.applies():
        if limit is not None:
            _requests_openai(response, limit)
        _tokens_openai(response)
    elif limit is not None:
        response.headers["X-RateLimit-Limit"] = str(limit.limit.amount)
        response.headers["X-RateLimit-Remaining"] = str(max(0, limit.remaining))
        response.headers["X-RateLimit-Reset"] = str(reset_seconds())
    return response


def _requests_openai(response: Response, limit) -> None:
    response.headers["x-ratelimit-limit-requests"] = str(limit.limit.amount)
    response.headers["x-ratelimit-remaining-requests"] = str(max(0, limit.remaining))
    response.headers["x-ratelimit-reset-requests"] = duration(reset_seconds() or 0)


def _tokens_openai(response: Response) -> None:
    from common.apikeys import caps

    key = g.get("api_key")
    room = caps.headroom(key) if key is not None else None
    if room is None:
        return
    response.headers["x-ratelimit-limit-tokens"] = str(room.cap)
    response.headers["x-ratelimit-remaining-tokens"] = str(room.remaining)
    response.headers["x-ratelimit-reset-tokens"] = duration(room.reset_seconds)
