"""Settlement (`common.engine.settlement`): an answer is charged exactly once, whoever ends it and
however often; and with transactions on, every one of its writes goes through the transaction.

nx-27017 takes sessions and transactions (an abort undoes the writes) but its `hello` reports no
replica set, so the transactional path — production's — runs here only when forced on with
`MONGO_TRANSACTIONS=on`. It does not isolate a transaction (its writes are visible before the
commit), so the tests that force it run one transaction at a time. Which writes went
through the transaction is read off the wire (pymongo's command monitoring), so a write that
skips the session cannot hide behind any helper or collection object.
"""

from __future__ import annotations

import threading

import pytest
from pymongo import monitoring

from common import db
from common.apikeys.models import ApiKey
from common.conversations.models import ChatMessage, ChatSession
from common.engine import ending
from common.engine.completion import complete
from common.engine.outcomes import Outcome
from common.sending.command import SendOptions
from common.users.models import User
from common.wallet import pricing
from common.wallet import service as wallet
from common.wallet.models import LedgerEntry
from common.wallet.reconcile import reconcile
from tests.service.chat.conftest import PAID
from tests.support.chatkit import tokens_of

WRITES = ("insert", "update", "delete", "findAndModify")


class WireCommands(monitoring.CommandListener):
    """The commands one thread sends while `recording()` (listeners see every client made after
    `monitoring.register`, so the database connection is reopened once it is registered)."""

    def __init__(self):
        self.thread: int | None = None
        self.commands: list[tuple[str, dict]] = []

    def recording(self) -> WireCommands:
        self.thread, self.commands = threading.get_ident(), []
        return self

    def __enter__(self) -> WireCommands:
        return self

    def __exit__(self, *exc) -> None:
        self.thread = None

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if threading.get_ident() == self.thread:
            self.commands.append((event.command_name, dict(event.command)))

    def succeeded(self, event) -> None:
        pass

    def failed(self, event) -> None:
        pass

    def writes(self) -> list[dict]:
        return [cmd for name, cmd in self.commands if name in WRITES]

    def written(self) -> set[str]:
        """The collections written (a write command names its collection under its name)."""
        return {cmd[name] for name, cmd in self.commands if name in WRITES}

    def outside_transaction(self) -> list[dict]:
        """Writes not sent as part of a transaction (`autocommit: false` under a session)."""
        return [cmd for cmd in self.writes() if cmd.get("autocommit") is not False]

    def committed(self) -> list[dict]:
        return [cmd for name, cmd in self.commands if name == "commitTransaction"]


@pytest.fixture(scope="session")
def _wire_listener() -> WireCommands:
    listener = WireCommands()
    monitoring.register(listener)
    return listener


@pytest.fixture
def wire(_wire_listener, base_settings) -> WireCommands:
    db.disconnect()  # the next connection is made with the listener
    db.connect(base_settings.mongodb_uri)
    return _wire_listener


@pytest.fixture(params=["off", "on"])
def transactions(request, settings_override) -> str:
    """Each settlement test with plain writes and with the transactional (production) path."""
    settings_override(mongo_transactions=request.param)
    return request.param


def pending_answer(member, send_as) -> tuple[str, ChatMessage, int]:
    user = member("pro")
    before = tokens_of(str(user.id))["balance"]
    result = send_as(user, "Which pasta for pesto?", PAID, options=SendOptions(max_tokens=200))
    return str(user.id), result.messages[0], before


def done(msg: ChatMessage, completion_tokens: int) -> Outcome:
    """A finished answer's outcome, charged by the rule at the rates held on the message."""
    charge = pricing.tokens_for(40, completion_tokens, pricing.stored_rates(msg.rates))
    return Outcome("done", "Trofie.", 40, completion_tokens, charge)


def charges(user_id: str, key: str) -> list[dict]:
    return [e for e in wallet.entries_for(user_id) if e["key"] == key]


def test_ending_an_answer_again_charges_nothing_more(transactions, provider, member, send_as):
    provider.scenario(PAID, deltas=["Trofie", "."], usage={"prompt_tokens": 40})
    user_id, msg, before = pending_answer(member, send_as)
    assert complete(str(msg.id)) == "done"
    final = ChatMessage.objects(id=msg.id).first()
    charged = final.charged
    assert charged > 0

    assert complete(str(msg.id)) == "already-final"  # a redelivered task
    ending.finish(final)  # the reaper completing a settlement it thinks was cut short
    assert ending.end(final, done(final, 150), {"status": "pending"}) is None
    again = wallet.settle(user_id, str(msg.id), charged + 50)

    assert (again.charged, again.applied_now) == (charged, False)
    assert ChatMessage.objects(id=msg.id).first().charged == charged
    assert [e["kind"] for e in charges(user_id, str(msg.id))] == ["charge"]
    assert tokens_of(user_id) == {
        "balance": before - charged,
        "reserved": 0,
        "used": charged,
        "holds": {},
    }
    session = ChatSession.objects(sessionId=final.sessionId).first()
    assert session.totalTokens == final.usage.totalTokens  # session stats counted once
    assert reconcile() == []


def test_two_runners_ending_one_answer_at_once_charge_it_once(provider, member, send_as):
    user_id, msg, before = pending_answer(member, send_as)
    outcomes = [done(msg, 100), done(msg, 150)]
    assert outcomes[0].charge != outcomes[1].charge
    ended: list[ChatMessage | None] = [None, None]
    start = threading.Barrier(2, timeout=5)

    def run(i: int) -> None:
        start.wait()
        ended[i] = ending.end(msg, outcomes[i], {"status": "pending"})

    runners = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in runners:
        t.start()
    for t in runners:
        t.join(10)

    winners = [i for i in range(2) if ended[i] is not None]
    assert len(winners) == 1
    charged = outcomes[winners[0]].charge
    assert ChatMessage.objects(id=msg.id).first().charged == charged
    assert [e["kind"] for e in charges(user_id, str(msg.id))] == ["charge"]
    assert tokens_of(user_id)["balance"] == before - charged
    assert reconcile() == []


@pytest.mark.parametrize("through", ["chat", "api key"])
def test_with_transactions_on_every_settlement_write_goes_through_the_transaction(
    through, wire, settings_override, member, send_as
):
    settings_override(mongo_transactions="on")
    user = member("pro")
    before = tokens_of(str(user.id))["balance"]
    key = None
    if through == "api key":  # an API record: no session; the key's spend rides on the user's
        key = ApiKey(userId=user.id, name="k", prefix="ap_x", secretHash="h").save()
    sent = send_as(user, "Which pasta for pesto?", PAID, api_key=key)
    msg, user_id = sent.messages[0], str(user.id)
    outcome = done(msg, 150)

    with wire.recording():
        final = ending.end(msg, outcome, {"status": "pending"})

    assert final is not None and final.charged == outcome.charge
    owners = [ChatMessage, User, LedgerEntry] + ([] if key else [ChatSession])
    assert wire.written() == {doc._get_collection_name() for doc in owners}
    assert wire.outside_transaction() == []
    assert len({cmd["lsid"]["id"] for cmd in wire.writes()}) == 1  # one session
    assert len({cmd["txnNumber"] for cmd in wire.writes()}) == 1  # one transaction
    assert len(wire.committed()) == 1
    assert tokens_of(user_id)["balance"] == before - outcome.charge
    assert reconcile() == []


def test_the_wire_check_sees_a_write_made_without_the_session(wire, settings_override, member):
    """The check above can fail: a write beside an open transaction is reported."""
    settings_override(mongo_transactions="on")
    user = member()
    users = User._get_collection()

    def work(session):
        users.update_one({"_id": user.id}, {"$set": {"name": "in"}}, session=session)
        users.update_one({"_id": user.id}, {"$set": {"name": "beside"}})

    with wire.recording():
        db.in_transaction(work)

    assert len(wire.writes()) == 2
    assert [cmd["updates"][0]["u"] for cmd in wire.outside_transaction()] == [
        {"$set": {"name": "beside"}}
    ]
