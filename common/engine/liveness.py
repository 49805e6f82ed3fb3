"""Is this run alive, and what happens now? The one authority, asked by every caller that may
end a run it does not own: the worker's claim (`completion`), the reaper, the web watchdog
(`web/streams.py`) and cancel.

The decision (`judge`) is pure: it is fed what was observed of a streaming message, as ages in
seconds measured by Redis's own clock (TTLs), so no two hosts' clocks are compared:

- **the lease** — the run's own key, refreshed by its heartbeat every third of a lease;
- **the last publish** — how long ago the run last appended to its stream (the stream buffer's
  TTL is renewed at every append, so this costs the hot path nothing);
- **its worker process** — each process that runs answers keeps a beacon: a record refreshed on
  a dedicated Redis connection (`Beacon`). Its claim token names the process, so a run whose
  lease lapsed can be traced to it: is that process's connection still open (a killed process's
  closes at once), how long since it last beat, and had it been beating steadily?

A missing lease alone does not prove a run dead: a worker starved of CPU (or stopped) misses its
refreshes — its lease and its beacon go stale together — but keeps its connection and comes back,
and its run takes its lease again within a third of a lease. Death is a closed connection;
silence longer than `WORKER_STALL_SECONDS`; a process that has been beating steadily for a whole
lease while this run's lease stayed missing (it runs, but no longer this answer: the run ended
without settling, its outcome kept for the reaper); or a lapsed lease no process accounts for.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import redis

from common.conversations.models import ChatMessage
from common.streaming import channel
from config import get_settings

log = logging.getLogger(__name__)

# A claim token is "<worker id>/<random>"; older tokens (no "/") name no process.
TOKEN_SEPARATOR = "/"


class Verdict(enum.Enum):
    ALIVE = "alive"  # leave it: its runner is there
    WAIT = "wait"  # cannot tell yet (Redis just restarted); ask again later
    DEAD = "dead"  # its runner is gone: end it (interrupted)


@dataclass(frozen=True)
class Worker:
    """The run's worker process as its beacon shows it (None fields: no beacon found)."""

    beat_age: float | None  # seconds since its last beat; None: no record (expired or never)
    connected: bool | None  # its beacon connection is open; None: unknown
    steady: float = 0.0  # at its last beat, how long it had been beating without a gap


@dataclass(frozen=True)
class Signals:
    lease_held: bool
    leases_trustworthy: bool  # False while Redis has been up for less than a lease
    publish_age: float | None  # seconds since the run's last append; None: nothing published
    worker: Worker | None  # None: the claim names no worker process


@dataclass(frozen=True)
class Policy:
    lease_seconds: float
    stall_seconds: float

    @property
    def beat_seconds(self) -> float:
        """How often leases and beacons are refreshed."""
        return self.lease_seconds / 3

    @classmethod
    def from_settings(cls) -> Policy:
        s = get_settings()
        return cls(float(s.hold_lease_seconds), float(s.worker_stall_seconds))


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str


def judge(s: Signals, policy: Policy) -> Decision:
    """What happens to a streaming run, from what was observed of it."""
    if s.lease_held:
        return Decision(Verdict.ALIVE, "its lease is held")
    if not s.leases_trustworthy:
        return Decision(Verdict.WAIT, "Redis restarted less than a lease ago")
    if s.worker is not None and s.worker.connected is False:
        return Decision(Verdict.DEAD, "its worker process is gone (connection closed)")
    if s.publish_age is not None and s.publish_age < policy.lease_seconds:
        return Decision(Verdict.ALIVE, "it published within a lease")
    if s.worker is not None and s.worker.beat_age is not None:
        w = s.worker
        if w.beat_age > policy.stall_seconds:
            return Decision(Verdict.DEAD, "its worker process stopped beating")
        if w.beat_age <= policy.beat_seconds * 2 and w.steady >= policy.lease_seconds:
            return Decision(Verdict.DEAD, "its worker process runs, but not this answer")
        return Decision(Verdict.ALIVE, "its worker process is there, only late")
    if s.worker is not None:
        return Decision(Verdict.DEAD, "its worker process has no beacon")
    return Decision(Verdict.DEAD, "its lease lapsed and no process accounts for it")


# -- observing ---------------------------------------------------------------------------------


def worker_of(claim_token: str | None) -> str | None:
    """The worker process a claim token names (None for a token of before the beacons)."""
    if not claim_token or TOKEN_SEPARATOR not in claim_token:
        return None
    return claim_token.rsplit(TOKEN_SEPARATOR, 1)[0]


def observe(messages: Iterable[ChatMessage]) -> dict[str, Signals]:
    """The signals of each streaming message, by id: one Redis pipeline for the leases, the
    streams and the beacons, and one `CLIENT LIST` for the beacon connections of runs whose
    lease lapsed."""
    streaming = [m for m in messages if m.status == "streaming"]
    if not streaming:
        return {}
    mids = [str(m.id) for m in streaming]
    workers = {str(m.id): worker_of(m.claimToken) for m in streaming}
    policy = Policy.from_settings()
    trusted = channel.leases_trustworthy(policy.lease_seconds)
    leases = channel.leases_alive(mids)
    publish = channel.publish_ages(mids)
    lapsed = {workers[mid] for mid in mids if not leases[mid] and workers[mid]}
    beacons = channel.beacons(sorted(lapsed))
    connected = channel.clients_connected([b.client_id for b in beacons.values() if b])
    signals = {}
    for mid in mids:
        worker = None
        if workers[mid] is not None:
            beacon = beacons.get(workers[mid])
            if beacon is None:
                worker = Worker(beat_age=None, connected=None)
            else:
                worker = Worker(beacon.age, beacon.client_id in connected, beacon.steady)
        signals[mid] = Signals(leases[mid], trusted, publish.get(mid), worker)
    return signals


def dead(messages: Iterable[ChatMessage]) -> list[ChatMessage]:
    """The streaming messages among `messages` whose runner is gone (to be interrupted)."""
    messages = list(messages)
    policy = Policy.from_settings()
    seen = observe(messages)
    gone = []
    for msg in messages:
        signals = seen.get(str(msg.id))
        if signals is None:
            continue
        decision = judge(signals, policy)
        if decision.verdict is Verdict.DEAD:
            log.warning("chat message %s: runner gone (%s)", msg.id, decision.reason)
            gone.append(msg)
    return gone


# -- this process's beacon ---------------------------------------------------------------------


class Beacon:
    """This process's sign of life, for the runs it claims: a record refreshed every third of a
    lease on a connection of its own (whose closing, when the process dies, Redis sees at once).
    Started by the first claim in a process; a fork gets its own."""

    _lock = threading.Lock()
    _current: Beacon | None = None

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.worker_id = f"{socket.gethostname()}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self._conn: redis.Redis | None = None
        self._client_id: int | None = None
        self._last: float | None = None  # monotonic time of the last beat
        self._steady_since = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="liveness-beacon", daemon=True)

    @classmethod
    def current(cls) -> Beacon:
        with cls._lock:
            beacon = cls._current
            if beacon is None or beacon.pid != os.getpid():
                beacon = cls._current = Beacon()
                beacon.beat()
                beacon._thread.start()
            return beacon

    def token(self) -> str:
        """A new claim token that names this process."""
        return f"{self.worker_id}{TOKEN_SEPARATOR}{uuid.uuid4().hex}"

    def beat(self) -> None:
        settings = get_settings()
        now = time.monotonic()
        if self._last is None or now - self._last > 2 * settings.hold_lease_seconds / 3:
            self._steady_since = now  # a first beat, or one after a gap (the process was stopped)
        self._last = now
        steady = now - self._steady_since
        try:
            if self._conn is None:
                self._conn = redis.Redis.from_url(
                    settings.redis_url, single_connection_client=True, socket_timeout=5
                )
                self._conn.client_setname(f"aipasta-beacon-{os.getpid()}")
                self._client_id = int(self._conn.client_id())
            channel.beat(
                self._conn, self.worker_id, self._client_id, steady, settings.worker_stall_seconds
            )
        except redis.RedisError as exc:  # a Redis blip or restart: reconnect at the next beat
            log.warning("liveness beacon: %s", exc)
            self._close()

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(redis.RedisError):
                self._conn.close()
        self._conn, self._client_id = None, None

    def _run(self) -> None:
        while not self._stop.wait(get_settings().hold_lease_seconds / 3):
            self.beat()

    def stop(self) -> None:
        self._stop.set()
        self._close()
