"""MongoDB connection per process, and transactions where the server supports them.

Correctness never rests on transactions (nx-27017 and standalone servers have none): services use
single-document conditional updates and unique keys, and `in_transaction()` only adds all-or-nothing
on top where `hello` reports a replica set or mongos.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TypeVar

import mongoengine
import pymongo
from pymongo.client_session import ClientSession
from pymongo.database import Database

from config import get_settings

log = logging.getLogger(__name__)
T = TypeVar("T")

_state: dict = {"pid": None, "uri": None, "txn": None, "embedded": None}


def connect(uri: str | None = None) -> Database:
    """Open (or reopen after a fork) this process's connection and return the database."""
    uri = uri or get_settings().mongodb_uri
    if _state["pid"] != os.getpid() or _state["uri"] != uri:
        mongoengine.disconnect_all()
        mongoengine.connect(host=uri, uuidRepresentation="standard", tz_aware=True)
        _state.update(pid=os.getpid(), uri=uri, txn=None, embedded=None)
    return mongoengine.get_db()


def disconnect() -> None:
    mongoengine.disconnect_all()
    _state.update(pid=None, uri=None, txn=None, embedded=None)


def get_db() -> Database:
    return connect()


def supports_transactions() -> bool:
    """True on a replica set member or mongos, from the server's `hello` — unless the
    `MONGO_TRANSACTIONS` setting says "on" or "off" (config/settings.py)."""
    mode = get_settings().mongo_transactions
    if mode != "auto":
        return mode == "on"
    if _state["txn"] is None or _state["pid"] != os.getpid():
        hello = get_db().client.admin.command("hello")
        _state["txn"] = bool(hello.get("setName")) or hello.get("msg") == "isdbgrid"
    return _state["txn"]


def is_embedded() -> bool:
    """True when the server is nx-27017 (its `buildInfo` names the process), whose text search
    matches substrings rather than MongoDB's stemmed words: callers pick `$regex` there."""
    if _state["embedded"] is None or _state["pid"] != os.getpid():
        info = get_db().client.admin.command("buildInfo")
        _state["embedded"] = str(info.get("process", "")).startswith("nx_27017")
    return _state["embedded"]


def in_transaction(work: Callable[[ClientSession | None], T]) -> T:
    """Run `work(session)` in one transaction where supported, else `work(None)` (plain writes).

    pymongo's `with_transaction` retries the whole of `work` on a transient error (a write
    conflict with a concurrent update) and on an unknown commit result, so `work` must only
    write through `session` and be safe to run again after an abort.
    """
    if not supports_transactions():
        return work(None)
    with get_db().client.start_session() as session:
        return session.with_transaction(work)


def ping(timeout: float = 2.0) -> None:
    """Raise unless the server answers within `timeout` seconds (server selection included)."""
    with pymongo.timeout(timeout):
        get_db().client.admin.command("ping")
