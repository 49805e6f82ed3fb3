"""Idempotent sends: the same key from the same user within the window is the same send.

A send that carries a key (`Idempotency-Key` on `POST /api/chat`, `requestId` on the websocket's
`chat.send`) first claims it: one document per (user, key) in `send_requests`, unique on both,
holding a fingerprint of the request and the ids the send is about to write. Only the claim's
owner writes and enqueues. Whoever inserts second finds the claim and:

- a different fingerprint (another message, models, session or options): `Conflict` (409);
- `done`: the first send's answer, its ids (`Replay`); nothing is held or charged again;
- `running`: waits for it (`IDEMPOTENCY_WAIT_SECONDS`), then answers as above, or 409 if it is
  still running;
- `running` for longer than `IDEMPOTENCY_STALE_SECONDS`: its web process died mid-send. The
  claim is taken over (a conditional update on the old owner), the dead attempt's writes are
  undone (`Claim.abandoned`: release its holds, delete its messages) and this attempt sends.
  Should the old attempt still be alive, its `commit` fails and it undoes its own writes.

A send that fails (402, 429, ...) drops its claim, so a retry runs again. The claim lives in
MongoDB, not Redis: a Redis wipe forgets nothing, and MongoDB's unique index decides a race
between two identical sends. MongoDB's TTL index removes claims after the window; a claim past
`expiresAt` that is still there counts as absent.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from mongoengine import DateTimeField, DictField, Document, StringField
from pymongo import ReturnDocument
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from common.errors import Conflict, ValidationError
from common.stored import as_utc, utcnow
from config import get_settings

MAX_KEY_CHARS = 255


class SendRequest(Document):
    """One claimed idempotency key. `userId` is text: nx-27017 does not match an ObjectId
    field other than `_id` by equality, and text means the same on MongoDB."""

    userId = StringField(required=True)  # noqa: N815
    key = StringField(required=True, max_length=MAX_KEY_CHARS)
    fingerprint = StringField(required=True)
    state = StringField(choices=("running", "done"), default="running")
    owner = StringField(required=True)  # the attempt that may write (a random token)
    planned = DictField()  # the ids the owner writes: see `common.sending.send._planned`
    startedAt = DateTimeField(required=True)  # noqa: N815
    expiresAt = DateTimeField(required=True)  # noqa: N815

    meta = {
        "collection": "send_requests",
        "indexes": [
            {"fields": ["userId", "key"], "unique": True},
            {"fields": ["expiresAt"], "expireAfterSeconds": 0},
        ],
    }


def requests() -> Collection:
    return SendRequest._get_collection()


@dataclass(frozen=True)
class Claim:
    """This attempt owns the key. `abandoned`: the planned ids of a dead attempt it replaced."""

    id: Any
    owner: str
    abandoned: dict | None = None


@dataclass(frozen=True)
class Replay:
    """The key's send already happened: its planned ids, and when it was committed."""

    planned: dict
    started_at: Any


def check_key(key: Any, field: str = "Idempotency-Key") -> str:
    """A usable key: 1 to 255 printable characters."""
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_CHARS or not key.isprintable():
        raise ValidationError(
            f"{field}: must be 1 to {MAX_KEY_CHARS} printable characters", {"field": field}
        )
    return key


def fingerprint(request: dict) -> str:
    """A digest of what the send does (not how the answer is delivered)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def claim(user_id: Any, key: str, digest: str, planned: dict) -> Claim | Replay:
    """Own `key` for this send, or learn the send that owns it (see the module docstring)."""
    settings = get_settings()
    deadline = time.monotonic() + settings.idempotency_wait_seconds
    owner = uuid.uuid4().hex
    while True:
        now = utcnow()
        doc = {
            "userId": str(user_id),
            "key": key,
            "fingerprint": digest,
            "state": "running",
            "owner": owner,
            "planned": planned,
            "startedAt": now,
            "expiresAt": now + timedelta(seconds=settings.idempotency_window_seconds),
        }
        try:
            return Claim(requests().insert_one(doc).inserted_id, owner)
        except DuplicateKeyError:
            pass
        found = requests().find_one({"userId": str(user_id), "key": key})
        if found is None or as_utc(found["expiresAt"]) <= now:
            _forget(found)  # gone meanwhile, or past its window: claim it afresh
            continue
        if found["fingerprint"] != digest:
            raise Conflict(
                "This idempotency key was already used for a different request.",
                {"field": "Idempotency-Key", "key": key},
            )
        if found["state"] == "done":
            return Replay(found["planned"], as_utc(found["startedAt"]))
        age = (now - as_utc(found["startedAt"])).total_seconds()
        if age > settings.idempotency_stale_seconds:
            taken = _take_over(found, owner, planned)
            if taken is not None:
                return taken
        elif time.monotonic() >= deadline:
            raise Conflict(
                "A request with this idempotency key is still being processed; retry shortly.",
                {"field": "Idempotency-Key", "key": key, "inProgress": True, "retryAfter": 1},
            )
        time.sleep(0.05)


def _take_over(found: dict, owner: str, planned: dict) -> Claim | None:
    """Replace a dead attempt as the key's owner; None if someone else changed it first."""
    now = utcnow()
    taken = requests().find_one_and_update(
        {"_id": found["_id"], "owner": found["owner"], "state": "running"},
        # nx-27017 stores a date set this way as text; `as_utc` reads either form.
        {"$set": {"owner": owner, "planned": planned, "startedAt": now}},
        return_document=ReturnDocument.AFTER,
    )
    if taken is None:
        return None
    return Claim(found["_id"], owner, abandoned=found.get("planned") or {})


def commit(c: Claim) -> bool:
    """Mark the send done if this attempt still owns it (False: it was taken over)."""
    res = requests().update_one(
        {"_id": c.id, "owner": c.owner, "state": "running"}, {"$set": {"state": "done"}}
    )
    return bool(res.modified_count)


def drop(c: Claim) -> None:
    """The send failed: forget the key, so a retry sends again."""
    requests().delete_one({"_id": c.id, "owner": c.owner, "state": "running"})


def _forget(found: dict | None) -> None:
    if found is not None:
        requests().delete_one({"_id": found["_id"], "owner": found["owner"]})
