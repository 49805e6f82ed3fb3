"""Connections per process and the transaction helper, against the session's nx-27017."""

from __future__ import annotations

import multiprocessing

from pymongo.errors import OperationFailure

from common import db


def _child_ping(queue) -> None:
    # A forked child must not reuse the parent's sockets: `connect()` opens its own.
    database = db.connect()
    db.ping()
    queue.put((database.name, db._state["pid"]))


def test_connect_is_per_process_and_reopens_after_a_fork(settings):
    database = db.connect()
    assert database.name == "aipasta_test"
    parent_pid = db._state["pid"]
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_ping, args=(queue,))
    child.start()
    name, child_pid = queue.get(timeout=60)
    child.join(60)
    assert child.exitcode == 0
    assert name == "aipasta_test" and child_pid != parent_pid
    assert db._state["pid"] == parent_pid


def test_transactions_are_detected_from_hello(settings):
    # nx-27017 reports no replica set, so the helper runs the work without a session.
    assert db.supports_transactions() is False
    seen = []

    def work(session):
        seen.append(session)
        db.get_db()["scratch"].insert_one({"n": 1}, session=session)
        return "done"

    assert db.in_transaction(work) == "done"
    assert seen == [None]
    assert db.get_db()["scratch"].count_documents({}) == 1


def test_the_mongo_transactions_setting_overrides_the_detection(settings_override):
    settings_override(mongo_transactions="on")
    inside = []
    assert db.in_transaction(lambda session: inside.append(session.in_transaction) or 1) == 1
    assert inside == [True]
    settings_override(mongo_transactions="off")
    assert db.supports_transactions() is False


def test_a_transient_transaction_error_runs_the_work_again(settings, monkeypatch):
    """Where transactions exist, a write conflict aborts the attempt and pymongo retries it.
    (nx-27017 accepts sessions and transactions, so the real `with_transaction` runs here.)"""
    monkeypatch.setattr(db, "supports_transactions", lambda: True)
    attempts = []

    def work(session):
        attempts.append(session)
        db.get_db()["scratch"].insert_one({"attempt": len(attempts)}, session=session)
        if len(attempts) == 1:
            conflict = OperationFailure("WriteConflict", code=112)
            conflict._add_error_label("TransientTransactionError")
            raise conflict
        return len(attempts)

    assert db.in_transaction(work) == 2
    assert all(s is not None for s in attempts)
