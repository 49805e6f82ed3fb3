"""Idempotent sends: the same key from the same user within the window is the same send.

A send that carries a key (`Idempotency-Key` on `POST /api/chat`, `requestId` on the websocket's
`chat.send`) writes it on the first new document it stores — the user message; for a
regenerate, the first new answer — as `requestKey` (`<user id>:<key>`, unique among the messages
that have one), with `request`: a fingerprint of the request and the answers' ids. So the
messages' insert is the claim: no round trip of its own. That document goes first in the
ordered insert; when the unique index refuses it, nothing of this attempt was stored and another
send owns the key (`KeyTaken`). The attempt takes back its other writes (the daily count, the
holds, the session) and reads the owner (`common.sending.send._repeat`):

- a different fingerprint (another message, models, session or options): `Conflict` (409);
- stored completely — each of its answers past `pending` or holding its wallet hold, its
  session stored: the first send's answer, its ids (a replay); nothing is held or charged again;
- not yet: it is still writing, or failing (a 402 or 429 deletes what it stored). The repeat
  waits for it (`IDEMPOTENCY_WAIT_SECONDS`), then answers as above, sends afresh if the owner is
  gone, or 409 if it is still incomplete;
- incomplete for longer than `IDEMPOTENCY_STALE_SECONDS`: its web process died mid-send. Its
  writes are undone (holds released, messages deleted, a new session too) and this attempt
  sends afresh. Complete but still `pending` that long: it died before enqueueing; the repeat
  enqueues its answers with their holds (a second task for an answer is a no-op).

A send that fails (402, 429, ...) deletes its messages, and with them its key, so a retry runs
again. The key lives in MongoDB, not Redis: a Redis wipe forgets nothing, and the unique index
decides a race between two identical sends. A key is remembered for `IDEMPOTENCY_WINDOW_SECONDS`
from its send: a repeat that finds an older owner takes the key off it (a conditional update)
and sends afresh. Deleting the conversation deletes the key with its messages.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from common.errors import ValidationError

MAX_KEY_CHARS = 255


class KeyTaken(Exception):
    """The messages' insert found the key already stored: another send owns it."""


def check_key(key: Any, field: str = "Idempotency-Key") -> str:
    """A usable key: 1 to 255 printable characters."""
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_CHARS or not key.isprintable():
        raise ValidationError(
            f"{field}: must be 1 to {MAX_KEY_CHARS} printable characters", {"field": field}
        )
    return key


def stored_key(user_id: Any, key: str) -> str:
    """The key as stored (`requestKey`): per user. Text, so that the unique index and the
    lookup mean the same on nx-27017, which matches no ObjectId field but `_id` by equality."""
    return f"{user_id}:{key}"


def fingerprint(request: dict) -> str:
    """A digest of what the send does (not how the answer is delivered)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
