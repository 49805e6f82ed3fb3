"""Creating, listing, revoking and checking personal API keys.

The secret is `ap-` + 43 URL-safe characters from `secrets.token_urlsafe(32)` (256 random bits).
Only its SHA-256 is stored. A slow password hash (bcrypt) protects low-entropy secrets chosen by
people; a 256-bit random secret cannot be guessed from a fast hash either, and a fast hash lets
every request find its key with one indexed lookup instead of a bcrypt check (~ms of CPU each).

Every request is checked (revoked, expired, account active). The documents behind the check are
reused for a few seconds unless a change was signalled (`common.users.credentials`), so a
revoked key is still refused at once, in every web process.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from bson import ObjectId

from common.accounts import notices, verification
from common.apikeys.errors import InvalidApiKey, ModelNotAllowed
from common.apikeys.models import ApiKey
from common.audit.service import Actor, record
from common.errors import NotFound, ValidationError
from common.stored import as_utc, iso, object_id, object_id_or_none, utcnow
from common.users import credentials
from common.users import service as users
from common.users.models import User

log = logging.getLogger(__name__)

SECRET_PREFIX = "ap-"
SHOWN_PREFIX_CHARS = 10  # "ap-" and 7 characters of the secret
MAX_KEYS_PER_USER = 50
LAST_USED_EVERY = 60.0  # seconds: `lastUsedAt` is written at most this often per key and process

_last_used_written: dict[str, float] = {}


@dataclass(frozen=True)
class NewKey:
    name: str
    models: list[str]
    daily_token_cap: int | None = None
    monthly_token_cap: int | None = None
    expires_at: datetime | None = None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(user: User, new: NewKey, actor: Actor) -> tuple[ApiKey, str]:
    """Store a new key for `user`; returns it and its secret (shown once, never again). Needs a
    confirmed address (`EmailNotVerified`, 403); the owner is mailed a notice."""
    verification.require_verified(user, "api_key")
    if len(list_keys(user.id)) >= MAX_KEYS_PER_USER:
        raise ValidationError(f"At most {MAX_KEYS_PER_USER} API keys; revoke one first.")
    expires = as_utc(new.expires_at)
    if expires is not None and expires <= utcnow():
        raise ValidationError("expiresAt: must be in the future", {"field": "expiresAt"})
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        userId=user.id,
        name=new.name,
        prefix=secret[:SHOWN_PREFIX_CHARS],
        secretHash=hash_secret(secret),
        models=list(dict.fromkeys(new.models)),
        dailyTokenCap=new.daily_token_cap,
        monthlyTokenCap=new.monthly_token_cap,
        expiresAt=expires,
    ).save(force_insert=True)
    record(actor, "apikey.create", "apikey", key.id, after=key_dict(key))
    notices.api_key_created(user, key.id, key.name, key.prefix)
    return key, secret


def list_keys(user_id: Any, include_revoked: bool = False) -> list[ApiKey]:
    # `userId__in`: nx-27017 matches nothing on equality with a non-_id ObjectId (docs/chat.md)
    keys = ApiKey.objects(userId__in=[object_id(user_id)])
    rows = [k for k in keys if include_revoked or not k.revokedAt]
    return sorted(rows, key=lambda k: as_utc(k.createdAt), reverse=True)


def revoke_key(user_id: Any, key_id: str, actor: Actor) -> ApiKey:
    """Revoke one of `user_id`'s keys; idempotent (revoking again changes and records nothing)."""
    key = _owned(user_id, key_id)
    if key.revokedAt:
        return key
    now = utcnow()
    changed = ApiKey._get_collection().update_one(
        {"_id": key.id, "revokedAt": None}, {"$set": {"revokedAt": now, "revokedBy": actor.id}}
    )
    credentials.changed(key.userId)
    key.reload()
    if changed.modified_count:
        record(actor, "apikey.revoke", "apikey", key.id, {"revokedAt": None}, key_dict(key))
    return key


def _owned(user_id: Any, key_id: str) -> ApiKey:
    oid = object_id_or_none(key_id)
    key = ApiKey.objects(id=oid).first() if oid else None
    if key is None or str(key.userId) != str(user_id):
        raise NotFound("No such API key.")
    return key


# -- use on a request -----------------------------------------------------------------------------


def authenticate(secret: str | None) -> tuple[ApiKey, User]:
    """The key and its active user for a presented secret; `InvalidApiKey` (401) otherwise.

    The two documents are read from MongoDB, or reused for `REUSE_SECONDS` if this process read
    them and nothing that changes this check happened since (`common.users.credentials`: one
    Redis read), so a revocation counts at once in every process.
    """
    if not secret or not secret.startswith(SECRET_PREFIX) or len(secret) > 200:
        raise InvalidApiKey()
    digest = hash_secret(secret)
    key, user = _key_and_user(digest)
    if key is None:
        raise InvalidApiKey()
    if key.revokedAt:
        raise InvalidApiKey("This API key was revoked. Create a new one.")
    expires = as_utc(key.expiresAt)
    if expires is not None and expires <= utcnow():
        raise InvalidApiKey(f"This API key expired at {expires.isoformat()}. Create a new one.")
    if user is None or user.id != key.userId:
        user = users.find_user(key.userId)
    if user is None or not user.isActive:
        raise InvalidApiKey("The account of this API key is not active.")
    if len(_owners) > MAX_REMEMBERED:
        _owners.clear()
    _owners[digest] = key.userId
    _note_used(key)
    return key, user


# As long as a websocket reuses its user (web/ws.py): a plan or limit change signals itself
# (`credentials.changed`), so this bounds only what a lost signal could leave stale.
REUSE_SECONDS = 5.0
MAX_REMEMBERED = 100_000


@dataclass(frozen=True)
class _Read:
    key: dict
    user: dict | None
    version: str | None  # `credentials.version` of the owner, taken before the reads
    at: float


_owners: dict[str, ObjectId] = {}  # secret hash -> the key's user id (never changes)
_recent: dict[str, _Read] = {}  # secret hash -> the documents last read for it
# Reads in flight, by secret hash: a burst of requests on one key (a batch job's hundreds at
# once, every time the reuse window runs out) waits for one read instead of each making its own.
_reading: dict[str, threading.Event] = {}
_reading_lock = threading.Lock()
READ_WAIT_SECONDS = 5.0


def _key_and_user(digest: str) -> tuple[ApiKey | None, User | None]:
    owner = _owners.get(digest)
    if owner is None:  # not seen here yet: the key tells whose it is
        doc = _find_key(digest)
        return (ApiKey._from_son(doc) if doc else None), None
    started = time.monotonic()
    try:
        version = credentials.version(owner)
    except redis.RedisError:  # no way to learn of a change: read the documents
        return _built(*_read_key_and_user(digest, owner))
    reused = _reusable(digest, version)
    if reused is not None:
        return reused
    return _read_shared(digest, owner, version, started)


def _read_shared(
    digest: str, owner: ObjectId, version: str | None, started: float
) -> tuple[ApiKey | None, User | None]:
    """Read both documents and remember them; a request that finds this read in flight waits
    for it and takes its result."""
    with _reading_lock:
        in_flight = _reading.get(digest)
        if in_flight is None:
            _reading[digest] = mine = threading.Event()
    if in_flight is not None:
        in_flight.wait(READ_WAIT_SECONDS)
        reused = _reusable(digest, version)
        if reused is not None:
            return reused
        return _built(*_read_key_and_user(digest, owner))  # the read failed or things changed
    try:
        key_doc, user_doc = _read_key_and_user(digest, owner)
        if key_doc is not None:
            if len(_recent) > MAX_REMEMBERED:
                _recent.clear()
            _recent[digest] = _Read(key_doc, user_doc, version, started)
        return _built(key_doc, user_doc)
    finally:
        with _reading_lock:
            _reading.pop(digest, None)
        mine.set()


def _reusable(digest: str, version: str | None) -> tuple[ApiKey, User | None] | None:
    """New objects from the documents last read for `digest`, if read under `version` (no
    change signalled since) less than `REUSE_SECONDS` ago."""
    seen = _recent.get(digest)
    if seen is None or seen.version != version:
        return None
    if time.monotonic() - seen.at >= REUSE_SECONDS:
        return None
    return _built(seen.key, seen.user)


def _built(key_doc: dict | None, user_doc: dict | None) -> tuple[ApiKey | None, User | None]:
    """New objects on every request: a request may change its own, never another's."""
    key = ApiKey._from_son(key_doc) if key_doc is not None else None
    return key, User._from_son(user_doc) if user_doc is not None else None


def _read_key_and_user(digest: str, owner: ObjectId) -> tuple[dict | None, dict | None]:
    """Both documents, read at the same time (the key's owner never changes)."""
    found: dict[str, Any] = {}

    def read_user() -> None:
        try:
            found["user"] = users.find_user_doc(owner, for_request=True)
        except Exception:  # read again, in order, by the caller (and fail there if it must)
            found["user"] = None

    reader = threading.Thread(target=read_user, daemon=True)
    reader.start()
    key = _find_key(digest)
    reader.join()
    return key, found.get("user")


def _find_key(digest: str) -> dict | None:
    return ApiKey._get_collection().find_one({"secretHash": digest})


def _note_used(key: ApiKey) -> None:
    """Record the key's last use, at most once a minute per key and process (a write per
    request would be a database round trip on every answer's path)."""
    now = time.monotonic()
    kid = str(key.id)
    if now - _last_used_written.get(kid, -LAST_USED_EVERY) < LAST_USED_EVERY:
        return
    _last_used_written[kid] = now
    # Off the request's path (a greenlet under gevent): nothing waits for this write.
    threading.Thread(target=_write_last_used, args=(key.id, utcnow()), daemon=True).start()


def _write_last_used(key_id: ObjectId, when: datetime) -> None:
    try:
        ApiKey._get_collection().update_one({"_id": key_id}, {"$set": {"lastUsedAt": when}})
    except Exception:  # a missed "last used" is not worth failing anything for
        log.warning("could not record the last use of key %s", key_id, exc_info=True)


def allows(key: ApiKey, model_id: str) -> bool:
    return not key.models or model_id in key.models


def check_model(key: ApiKey, model_id: str) -> None:
    if not allows(key, model_id):
        raise ModelNotAllowed(
            f"This API key may not use {model_id}. Allowed: {', '.join(key.models)}.",
            {"modelId": model_id, "allowed": list(key.models)},
        )


def spend_counters(key_id: str, charged: int) -> dict[str, int]:
    """The counters of one charged answer through key `key_id`, as `$inc` paths of its owner's
    document: they ride on the answer's hold-closing update (`wallet.settle(also_inc=...)`), so
    they count exactly once and cost no write of their own."""
    return {f"usage.apiKeys.{key_id}.spent": int(charged), f"usage.apiKeys.{key_id}.requests": 1}


def spending(user_id: Any) -> dict[str, dict[str, int]]:
    """What each of the user's keys has been charged: `{key id: {spent, requests}}`."""
    # The whole `usage`: nx-27017 returns a dotted projection as a flat field (README).
    doc = User._get_collection().find_one({"_id": object_id(user_id)}, {"usage": 1})
    return ((doc or {}).get("usage") or {}).get("apiKeys") or {}


def key_dict(key: ApiKey, spent: dict[str, dict[str, int]] | None = None) -> dict[str, Any]:
    """A key as the API shows it (never the secret or its hash). `spent`: its owner's
    `spending` (read here if not given). Keys charged before the counters moved to the owner's
    document keep what they counted on their own."""
    mine = (spending(key.userId) if spent is None else spent).get(str(key.id)) or {}
    return {
        "id": str(key.id),
        "name": key.name,
        "prefix": key.prefix,
        "models": list(key.models or []),
        "dailyTokenCap": key.dailyTokenCap,
        "monthlyTokenCap": key.monthlyTokenCap,
        "expiresAt": iso(key.expiresAt),
        "createdAt": iso(key.createdAt),
        "lastUsedAt": iso(key.lastUsedAt),
        "revokedAt": iso(key.revokedAt),
        "spentTokens": (key.spentTokens or 0) + int(mine.get("spent") or 0),
        "requests": (key.requests or 0) + int(mine.get("requests") or 0),
    }
