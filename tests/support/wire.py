"""What an answer costs on the wire: MongoDB commands and Redis round trips, counted server-side.

MongoDB: the counting nx-27017 (`tests.support.counting_nx`, `mongo_server(counting=True)`)
counts every command by name and collection. Redis: a private `redis-server` (the shared one
carries other test sessions' traffic) reports `total_reads_processed` — one per request a client
sent in one write, a pipeline or a script call included: the round trips — and per-command calls
(`INFO commandstats`; commands a script runs count there too).

`WireMeter` takes both before and after a block; `idle_rates` measures what the processes do on
their own (Celery's polling, beat's jobs, the drivers' monitoring), so a reader can subtract it.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field

import pymongo
import redis

from tests.support.counting_nx import COUNT_COMMAND

# The driver's own traffic, not the application's: left out of the per-answer figures.
MONITORING = ("hello", "isMaster", "ismaster", "ping", "endSessions", COUNT_COMMAND)


def mongo_counts(address: str) -> collections.Counter[str]:
    """The counting nx-27017's counts so far, `<command> <collection>` → calls."""
    client = pymongo.MongoClient(f"mongodb://{address}/?directConnection=true")
    try:
        return collections.Counter(client.admin.command({COUNT_COMMAND: 1})["counts"])
    finally:
        client.close()


def application(counts: collections.Counter[str]) -> collections.Counter[str]:
    """The counts without the drivers' monitoring."""
    return collections.Counter(
        {k: v for k, v in counts.items() if k.split(" ")[0] not in MONITORING and v > 0}
    )


@dataclass
class RedisStats:
    round_trips: int
    commands: collections.Counter[str] = field(default_factory=collections.Counter)


def redis_stats(client: redis.Redis) -> RedisStats:
    stats = client.info("stats")
    calls = collections.Counter()
    for name, row in client.info("commandstats").items():
        calls[name.removeprefix("cmdstat_")] = int(row["calls"])
    # The two INFO calls above are this reader's own round trips, not the application's.
    return RedisStats(int(stats["total_reads_processed"]) - 2, calls)


@dataclass
class Wire:
    """Counts over one interval."""

    seconds: float
    mongo: collections.Counter[str]
    redis_round_trips: int
    redis_commands: collections.Counter[str]

    def minus_idle(self, idle: Wire) -> Wire:
        """This interval less what the processes do on their own in as long (`idle`'s rate)."""
        scale = self.seconds / idle.seconds if idle.seconds else 0.0

        def less(a: collections.Counter, b: collections.Counter) -> collections.Counter:
            return collections.Counter({k: a[k] - b[k] * scale for k in a})

        return Wire(
            self.seconds,
            less(self.mongo, idle.mongo),
            self.redis_round_trips - idle.redis_round_trips * scale,
            less(self.redis_commands, idle.redis_commands),
        )

    def per(self, answers: int) -> Wire:
        def each(c: collections.Counter) -> collections.Counter:
            return collections.Counter({k: v / answers for k, v in c.items()})

        return Wire(
            self.seconds,
            each(self.mongo),
            self.redis_round_trips / answers,
            each(self.redis_commands),
        )

    @property
    def mongo_total(self) -> float:
        return sum(v for v in application(self.mongo).values())


class WireMeter:
    """`with WireMeter(mongo_address, redis_url) as m: ...` → `m.result` (a `Wire`)."""

    def __init__(self, mongo_address: str, redis_url: str):
        self.mongo_address = mongo_address
        self.redis = redis.Redis.from_url(redis_url)
        self.result: Wire | None = None

    def __enter__(self) -> WireMeter:
        self._mongo = mongo_counts(self.mongo_address)
        self._redis = redis_stats(self.redis)
        self._t0 = time.monotonic()
        return self

    def __exit__(self, *exc) -> None:
        seconds = time.monotonic() - self._t0
        mongo = mongo_counts(self.mongo_address)
        red = redis_stats(self.redis)
        mongo.subtract(self._mongo)
        red.commands.subtract(self._redis.commands)
        self.result = Wire(
            seconds,
            application(mongo),
            red.round_trips - self._redis.round_trips,
            collections.Counter({k: v for k, v in red.commands.items() if v > 0}),
        )


def idle_rates(mongo_address: str, redis_url: str, seconds: float = 10.0) -> Wire:
    """What the running processes send on their own over `seconds` with no request in flight."""
    with WireMeter(mongo_address, redis_url) as meter:
        time.sleep(seconds)
    assert meter.result is not None
    return meter.result
