"""One message's stream in Redis: a replay buffer, a pub/sub channel, a lease and a cancel flag.

Frames are JSON text exactly as the websocket sends them. For message `m`:

- `aipasta:streambuf:<m>` (list): every frame in order; chunk `seq` s sits at index s-1, and the
  one final frame (`done`, `error` or `cancelled`) comes last. It expires after
  `stream_buffer_ttl`, so a client that reconnects later still gets everything it missed.
- `aipasta:stream:<m>` (pub/sub channel): the same frames, live. One pub/sub message carries one
  or more frames, joined by newlines (JSON text never holds a raw newline): chunks the worker
  read from the provider in one go travel together. Web processes listen with one pattern
  subscription (`aipasta:stream:*`) and fan out to their sockets, a frame each.
- `aipasta:streamfinal:<m>`: set when the final frame is stored; nothing is appended after it.

Append-and-publish is one Lua script, so chunks are stored only if the first is the next `seq`
and no final frame exists: a second runner of the same task cannot add a duplicate or a gap.
A buffer shorter than the seq says Redis lost its data (a restart): the script answers GAP and
the runner, which holds every chunk it generated, stores the missing ones again first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from common.redis_client import get_redis
from config import get_settings

CHANNEL_PREFIX = "aipasta:stream:"
CHANNEL_PATTERN = CHANNEL_PREFIX + "*"
FINAL_TYPES = ("done", "error", "cancelled")

# KEYS: buffer, final flag, cancel flag, lease. ARGV: kind, first seq, ttl, channel, lease
# token to drop with the final frame ('' for none), frame, frame, ...
_APPEND = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if ARGV[1] == 'chunk' then
  if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
  local have = redis.call('LLEN', KEYS[1])
  if have > tonumber(ARGV[2]) - 1 then return 0 end
  if have < tonumber(ARGV[2]) - 1 then return -2 end
else
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[3])
end
local frames = {unpack(ARGV, 6)}
redis.call('RPUSH', KEYS[1], unpack(frames))
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[4], table.concat(frames, '\\n'))
if ARGV[5] ~= '' and redis.call('GET', KEYS[4]) == ARGV[5] then redis.call('DEL', KEYS[4]) end
return 1
"""

# A missing lease is taken again: Redis restarted and lost it while its runner lives on.
_REFRESH = """
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not owner then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_scripts: dict[tuple[int, str], Any] = {}


def _script(source: str):
    r = get_redis()
    key = (id(r), source)
    if key not in _scripts:
        _scripts[key] = r.register_script(source)
    return _scripts[key]


def channel(message_id: str) -> str:
    return f"{CHANNEL_PREFIX}{message_id}"


def _buffer_key(message_id: str) -> str:
    return f"aipasta:streambuf:{message_id}"


def _final_key(message_id: str) -> str:
    return f"aipasta:streamfinal:{message_id}"


def _lease_key(message_id: str) -> str:
    return f"aipasta:chat:lease:{message_id}"


def _cancel_key(message_id: str) -> str:
    return f"aipasta:chat:cancel:{message_id}"


def message_id_of(channel_name: str) -> str:
    return channel_name[len(CHANNEL_PREFIX) :]


PUBLISHED, REFUSED, CANCELLED, GAP = 1, 0, -1, -2


def _append(message_id: str, kind: str, seq: int, frames: list[str], lease: str = "") -> int:
    ttl = get_settings().stream_buffer_ttl
    keys = [_buffer_key(message_id), _final_key(message_id), _cancel_key(message_id)]
    keys.append(_lease_key(message_id))
    args = [kind, seq, ttl, channel(message_id), lease, *frames]
    return int(_script(_APPEND)(keys=keys, args=args))


def _dumps(frame: dict) -> str:
    return json.dumps(frame, separators=(",", ":"))


def chunk_frame(message_id: str, seq: int, delta: str | dict, extra: dict | None = None) -> str:
    """A chunk frame's JSON text. Its fixed key order lets `chunk_seq` read it without parsing.

    `delta` is text, or the fields of a chunk that carries no text (`{"toolCall": {...}}`: one
    fragment of a tool call, in OpenAI's `delta.tool_calls[]` shape); `extra` adds fields
    (`modelId` on the first chunk of an answer given by a fallback model)."""
    frame = {"type": "chunk", "messageId": message_id, "seq": seq}
    if isinstance(delta, dict):
        frame.update({"delta": "", **delta})
    else:
        frame["delta"] = delta
    return _dumps({**frame, **(extra or {})})


_CHUNK_HEAD = '{"type":"chunk",'


def chunk_seq(raw: str) -> int | None:
    """A chunk frame's seq; None for any other frame (the final ones). The fan-out reads this
    for every chunk, so a frame made by `chunk_frame` is sliced rather than decoded."""
    if raw.startswith(_CHUNK_HEAD):
        start = raw.index('"seq":', len(_CHUNK_HEAD)) + 6
        return int(raw[start : raw.index(",", start)])
    frame = json.loads(raw)
    return int(frame.get("seq", 0)) if frame.get("type") == "chunk" else None


def split_frames(payload: str) -> list[str]:
    """The frames of one pub/sub message."""
    return payload.split("\n")


def publish_chunks(
    message_id: str, first_seq: int, deltas: list[str | dict], first_extra: dict | None = None
) -> int:
    """Store and publish chunks `first_seq`, `first_seq + 1`, ... in one round trip, each its
    own frame and seq; all or none are stored. PUBLISHED; REFUSED if the buffer already holds
    that seq or the stream has ended; GAP if the buffer is shorter than `first_seq - 1` (Redis
    lost it: `buffer_length` says from where to store again); CANCELLED if a cancel was
    requested (checked in the same script, so a cancel costs no extra round trip and nothing
    is published after it). `first_extra` adds fields to the first frame (`chunk_frame`)."""
    frames = [
        chunk_frame(message_id, first_seq + i, d, first_extra if i == 0 else None)
        for i, d in enumerate(deltas)
    ]
    return _append(message_id, "chunk", first_seq, frames)


def publish_final(message_id: str, frame: dict, lease_token: str | None = None) -> bool:
    """Store and publish the stream's one final frame; False if it already has one. With
    `lease_token`, the run's lease is dropped in the same round trip (if still that run's), and
    the run's own `drop_lease` afterwards costs nothing."""
    if frame.get("type") not in FINAL_TYPES:
        raise ValueError(f"not a final frame: {frame.get('type')}")
    final = {**frame, "messageId": message_id}
    seq = int(frame.get("seq", 0))
    published = _append(message_id, "final", seq, [_dumps(final)], lease_token or "")
    if published == PUBLISHED and lease_token:
        _dropped_with_final.add(lease_token)
    return published == PUBLISHED


def buffered(message_id: str) -> list[str]:
    """Every stored frame (JSON text), in order."""
    return get_redis().lrange(_buffer_key(message_id), 0, -1)


def chunk_count(message_id: str) -> int:
    """The highest chunk seq stored (the list length, minus a final frame if present)."""
    r = get_redis()
    length = r.llen(_buffer_key(message_id))
    return length - 1 if length and r.exists(_final_key(message_id)) else length


def buffer_length(message_id: str) -> int:
    return int(get_redis().llen(_buffer_key(message_id)))


def has_final(message_id: str) -> bool:
    return bool(get_redis().exists(_final_key(message_id)))


def final_frame(message_id: str) -> dict | None:
    if not has_final(message_id):
        return None
    raw = get_redis().lindex(_buffer_key(message_id), -1)
    return json.loads(raw) if raw else None


# -- lease: "a live worker owns this message" ---------------------------------------------------


def take_lease(message_id: str, token: str, seconds: float) -> bool:
    """Own the message for `seconds` unless someone else holds a live lease."""
    return bool(get_redis().set(_lease_key(message_id), token, nx=True, px=int(seconds * 1000)))


def refresh_lease(message_id: str, token: str, seconds: float) -> bool:
    return bool(_script(_REFRESH)(keys=[_lease_key(message_id)], args=[token, int(seconds * 1000)]))


# Leases this process dropped with their answer's final frame (`publish_final`), by token.
_dropped_with_final: set[str] = set()


def drop_lease(message_id: str, token: str) -> None:
    if token in _dropped_with_final:
        _dropped_with_final.discard(token)
        return
    _script(_RELEASE)(keys=[_lease_key(message_id)], args=[token])


def leases_trustworthy(lease_seconds: float) -> bool:
    """Whether a missing lease means a dead runner: not while Redis has been up for less than
    a lease (a restart loses every lease; a live runner's next heartbeat takes its own again)."""
    uptime = get_redis().info("server").get("uptime_in_seconds", 0)
    return int(uptime) >= lease_seconds


def leases_alive(message_ids: list[str]) -> dict[str, bool]:
    if not message_ids:
        return {}
    pipe = get_redis().pipeline(transaction=False)
    for mid in message_ids:
        pipe.exists(_lease_key(mid))
    return {mid: bool(alive) for mid, alive in zip(message_ids, pipe.execute(), strict=True)}


def publish_ages(message_ids: list[str]) -> dict[str, float]:
    """Seconds since each stream's last append, by Redis's clock: every append renews the
    buffer's TTL, so its age is what the TTL has lost. Streams with nothing stored are absent."""
    if not message_ids:
        return {}
    pipe = get_redis().pipeline(transaction=False)
    for mid in message_ids:
        pipe.pttl(_buffer_key(mid))
    ttl_ms = get_settings().stream_buffer_ttl * 1000
    ages = {}
    for mid, left in zip(message_ids, pipe.execute(), strict=True):
        if left is not None and left >= 0:
            ages[mid] = max(0.0, (ttl_ms - left) / 1000)
    return ages


# -- worker beacons (see common.engine.liveness) ---------------------------------------------------


@dataclass(frozen=True)
class BeaconSeen:
    client_id: int  # the Redis client id of the beacon's connection
    age: float  # seconds since its last beat, by Redis's clock
    steady: float  # at that beat, how long the process had been beating without a gap


def _beacon_key(worker_id: str) -> str:
    return f"aipasta:worker:{worker_id}"


def beat(
    conn: Any, worker_id: str, client_id: int | None, steady: float, ttl_seconds: float
) -> None:
    """Record a beat of `worker_id` on its own connection `conn` (`steady`: seconds it has been
    beating without a gap); the record lives `ttl_seconds`."""
    value = f"{client_id or 0}:{int(steady * 1000)}"
    conn.set(_beacon_key(worker_id), value, px=int(ttl_seconds * 1000))


def beacons(worker_ids: list[str]) -> dict[str, BeaconSeen]:
    """The live beacons among `worker_ids` (an expired one is absent)."""
    if not worker_ids:
        return {}
    ttl_ms = get_settings().worker_stall_seconds * 1000
    pipe = get_redis().pipeline(transaction=False)
    for wid in worker_ids:
        pipe.get(_beacon_key(wid))
        pipe.pttl(_beacon_key(wid))
    replies = pipe.execute()
    seen = {}
    for i, wid in enumerate(worker_ids):
        value, left = replies[2 * i], replies[2 * i + 1]
        if value is not None and left is not None and left >= 0:
            client, _, steady_ms = value.partition(":")
            age = max(0.0, (ttl_ms - left) / 1000)
            seen[wid] = BeaconSeen(int(client), age, int(steady_ms or 0) / 1000)
    return seen


def clients_connected(client_ids: list[int]) -> set[int]:
    """Which of these Redis client ids have an open connection now."""
    ids = sorted({c for c in client_ids if c})
    if not ids:
        return set()
    listing = get_redis().execute_command("CLIENT", "LIST", "ID", *ids)
    found = set()
    for line in (listing or "").splitlines():
        for field in line.split():
            if field.startswith("id="):
                found.add(int(field[3:]))
    return found


# -- an outcome the database could not take (an outage longer than the settlement's retries) ---


def _outcome_key(message_id: str) -> str:
    return f"aipasta:chat:outcome:{message_id}"


def stash_outcome(message_id: str, outcome: dict) -> None:
    get_redis().set(_outcome_key(message_id), json.dumps(outcome), ex=7 * 86400)


def stashed_outcome(message_id: str) -> dict | None:
    raw = get_redis().get(_outcome_key(message_id))
    return json.loads(raw) if raw else None


def drop_outcome(message_id: str) -> None:
    get_redis().delete(_outcome_key(message_id))


# -- cancellation ---------------------------------------------------------------------------------


def request_cancel(message_id: str) -> None:
    get_redis().set(_cancel_key(message_id), "1", ex=get_settings().stream_buffer_ttl)


def cancel_requested(message_id: str) -> bool:
    return bool(get_redis().exists(_cancel_key(message_id)))
