"""A per-user change counter in Redis, for processes that reuse what they read of an account.

The API-key check (`common.apikeys.service.authenticate`) keeps the key and its user it last read
for a few seconds instead of reading both from MongoDB on every request. Whatever can change the
outcome of that check — revoking a key, deactivating or closing the account, a plan change —
calls `changed(user_id)` after its write, and every reuse first compares this counter (one Redis
GET): a change counts at once in every process.

The counter is a signal, not state: the documents in MongoDB stay the truth. A lost counter (a
Redis restart) reads as missing, which a reuse treats as a change; a process that cannot read it
reads the documents. Only a failed `changed` (Redis down at that moment, but back for the reader
within the reuse window) could leave a reuse stale, for at most that window.
"""

from __future__ import annotations

import logging
from typing import Any

import redis

from common.redis_client import get_redis

log = logging.getLogger(__name__)

KEEP_SECONDS = 2 * 24 * 3600  # far longer than any reuse window; refreshed on every change


def _key(user_id: Any) -> str:
    return f"aipasta:credentials:{user_id}"


def changed(user_id: Any) -> None:
    """Call after a write that changes what a check of this user's credentials would find."""
    try:
        pipe = get_redis().pipeline()
        pipe.incr(_key(user_id))
        pipe.expire(_key(user_id), KEEP_SECONDS)
        pipe.execute()
    except redis.RedisError:
        log.warning("could not signal a credentials change of %s", user_id, exc_info=True)


def version(user_id: Any) -> str | None:
    """The counter now (None if it was never set or was lost); raises if Redis is down."""
    return get_redis().get(_key(user_id))
