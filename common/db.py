"""MongoDB connection per process, and transactions where the server supports them.

Correctness never rests on transactions (nx-27017 and standalone servers have none): services use
single-document conditional updates and unique keys, and `transaction()` only adds all-or-nothing
on top where `hello` reports a replica set or mongos.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

import mongoengine
import pymongo
from pymongo.client_session import ClientSession
from pymongo.database import Database

from config import get_settings

log = logging.getLogger(__name__)

_state: dict = {"pid": None, "uri": None, "txn": None}


def connect(uri: str | None = None) -> Database:
    """Open (or reopen after a fork) this process's connection and return the database."""
    uri = uri or get_settings().mongodb_uri
    if _state["pid"] != os.getpid() or _state["uri"] != uri:
        mongoengine.disconnect_all()
        mongoengine.connect(host=uri, uuidRepresentation="standard", tz_aware=True)
        _state.update(pid=os.getpid(), uri=uri, txn=None)
    return mongoengine.get_db()


def disconnect() -> None:
    mongoengine.disconnect_all()
    _state.update(pid=None, uri=None, txn=None)


def get_db() -> Database:
    return connect()


def supports_transactions() -> bool:
    """True on a replica set member or mongos, from the server's `hello`."""
    if _state["txn"] is None or _state["pid"] != os.getpid():
        hello = get_db().client.admin.command("hello")
        _state["txn"] = bool(hello.get("setName")) or hello.get("msg") == "isdbgrid"
    return _state["txn"]


@contextlib.contextmanager
def transaction() -> Iterator[ClientSession | None]:
    """Yield a session inside a transaction where supported, else `None` (plain writes)."""
    if not supports_transactions():
        yield None
        return
    client = get_db().client
    with client.start_session() as session, session.start_transaction():
        yield session


def ping(timeout: float = 2.0) -> None:
    """Raise unless the server answers within `timeout` seconds (server selection included)."""
    with pymongo.timeout(timeout):
        get_db().client.admin.command("ping")
