"""The early start (`common.chat.early`): the worker asks the provider from the task's copy of
the request while it claims the message. It may only save time: the answer, the charge and
what clients see are those of the claimed message, and a run that does not own the message
closes the early answer unread."""

from __future__ import annotations

import copy

from common.chat import early
from common.chat.cancel import cancel_message
from common.chat.completion import complete
from common.chat.models import ChatMessage
from common.chat.send import SendOptions
from common.streaming import channel
from common.wallet.reconcile import reconcile
from tests.support.chatkit import tokens_of
from tests.support.services import wait_for
from tests.unit.chat.conftest import PAID
from tests.unit.chat.test_completion import DELTAS, USAGE, chunks, ledger_kinds

QUESTION = "What does al dente mean?"


def hinted_answer(member, send_as, hints) -> tuple[str, ChatMessage, dict, int]:
    """A pro user's send to the paid model: (user id, pending answer, its task's hint, balance)."""
    user = member("pro")
    before = tokens_of(str(user.id))["balance"]
    [msg] = send_as(user, QUESTION, PAID, options=SendOptions(max_tokens=200)).messages
    return str(user.id), msg, hints[str(msg.id)], before


def calls(provider) -> int:
    return provider.stats()["chat_calls"]


def test_a_send_hands_its_task_the_request_the_worker_will_make(member, send_as, hints):
    _, msg, hint, _ = hinted_answer(member, send_as, hints)
    assert hint["modelId"] == PAID
    assert hint["prompt"][-1] == {"role": "user", "content": QUESTION}
    assert hint["metadata"]["maxTokens"] == 200


def test_a_hinted_answer_asks_the_provider_once_and_is_charged_as_any_other(
    provider, member, send_as, hints
):
    provider.scenario(PAID, deltas=DELTAS, usage=USAGE, first_delay=0.2)
    user_id, msg, hint, before = hinted_answer(member, send_as, hints)
    mid, asked = str(msg.id), calls(provider)

    assert complete(mid, hint) == "done"

    assert calls(provider) == asked + 1  # the early request was the run's request
    final = ChatMessage.objects(id=msg.id).first()
    assert final.content == "".join(DELTAS) and final.charged > 0
    assert [(c["seq"], c["delta"]) for c in chunks(mid)] == list(enumerate(DELTAS, start=1))
    assert tokens_of(user_id)["balance"] == before - final.charged
    assert ledger_kinds(user_id, mid) == ["charge"]
    assert reconcile() == []


def test_a_hint_whose_message_was_cancelled_while_pending_asks_nothing(
    provider, member, send_as, hints
):
    provider.scenario(PAID, deltas=DELTAS, usage=USAGE)
    user_id, msg, hint, before = hinted_answer(member, send_as, hints)
    mid = str(msg.id)
    cancel_message(user_id, mid)
    asked = calls(provider)

    assert complete(mid, hint) == "already-final"

    assert calls(provider) == asked  # the cancel was seen before asking
    final = ChatMessage.objects(id=msg.id).first()
    assert (final.status, final.content, final.charged or 0) == ("cancelled", "", 0)
    assert chunks(mid) == []
    assert tokens_of(user_id)["balance"] == before
    assert ledger_kinds(user_id, mid) == ["release"]
    assert reconcile() == []


def test_a_hint_whose_message_another_run_owns_is_closed_unread(provider, member, send_as, hints):
    # The answer is closed once its first event is in: slow deltas let the fake see the hang-up.
    provider.scenario(PAID, deltas=DELTAS, usage=USAGE, first_delay=0.3, interval=0.2)
    user_id, msg, hint, before = hinted_answer(member, send_as, hints)
    mid = str(msg.id)
    assert channel.take_lease(mid, "another-runner", 30)  # a live run holds it (redelivery)
    asked, dropped = calls(provider), provider.stats()["disconnects"]
    early.prestart(mid, hint)  # as the task arrived
    wait_for(lambda: calls(provider) == asked + 1, 5, 0.01, "the early request")

    assert complete(mid, hint) == "owned-elsewhere"

    wait_for(lambda: provider.stats()["disconnects"] == dropped + 1, 5, 0.02, "the hang-up")
    assert ChatMessage.objects(id=msg.id).first().status == "pending"
    assert chunks(mid) == []  # nothing of it reached a client or the wallet
    assert tokens_of(user_id)["reserved"] == msg.reserved
    assert tokens_of(user_id)["balance"] == before - msg.reserved
    channel.drop_lease(mid, "another-runner")
    assert complete(mid, hint) == "done"
    assert reconcile() == []


def test_a_hint_that_differs_from_the_claimed_message_is_not_what_is_streamed(
    provider, member, send_as, hints
):
    """The fake echoes the prompt: the answer is the stored question's, not the hint's."""
    provider.scenario(PAID, usage=USAGE, first_delay=0.1)
    _, msg, hint, _ = hinted_answer(member, send_as, hints)
    forged = copy.deepcopy(hint)
    forged["prompt"][-1]["content"] = "something else entirely"
    asked = calls(provider)

    assert complete(str(msg.id), forged) == "done"

    assert calls(provider) == asked + 2  # the forged request, closed, then the stored one
    sent = [r["messages"][-1]["content"] for r in provider.stats()["last_requests"][-2:]]
    assert sorted(sent) == sorted(["something else entirely", QUESTION])
    final = ChatMessage.objects(id=msg.id).first()
    assert "dente" in final.content and "entirely" not in final.content
    assert reconcile() == []


def test_an_early_request_that_fails_retryably_is_tried_again_by_the_run(
    provider, member, send_as, hints
):
    provider.scenario(PAID, deltas=DELTAS, usage=USAGE, status=429, error="busy", fail_times=1)
    user_id, msg, hint, _ = hinted_answer(member, send_as, hints)
    asked = calls(provider)

    assert complete(str(msg.id), hint) == "done"

    assert calls(provider) == asked + 2
    assert ChatMessage.objects(id=msg.id).first().content == "".join(DELTAS)
    assert channel.final_frame(str(msg.id))["type"] == "done"
    assert reconcile() == []


def test_an_answer_asked_for_as_its_task_arrived_is_the_one_the_run_streams(
    provider, member, send_as, hints
):
    """The worker starts it from `task_received`, before its task events and its pool."""
    provider.scenario(PAID, deltas=DELTAS, usage=USAGE, first_delay=0.2)
    _, msg, hint, _ = hinted_answer(member, send_as, hints)
    mid, asked = str(msg.id), calls(provider)

    early.prestart(mid, hint)
    wait_for(lambda: calls(provider) == asked + 1, 5, 0.01, "the early request")
    assert ChatMessage.objects(id=msg.id).first().status == "pending"  # not claimed yet

    assert complete(mid, hint) == "done"

    assert calls(provider) == asked + 1
    assert ChatMessage.objects(id=msg.id).first().content == "".join(DELTAS)
    assert reconcile() == []


def test_an_answer_asked_for_a_task_that_never_ran_closes_itself(
    provider, member, send_as, hints, monkeypatch
):
    monkeypatch.setattr(early, "UNCLAIMED_SECONDS", 0.3)
    provider.scenario(PAID, deltas=DELTAS, usage=USAGE, interval=0.2)
    user_id, msg, hint, before = hinted_answer(member, send_as, hints)
    mid, asked, dropped = str(msg.id), calls(provider), provider.stats()["disconnects"]

    early.prestart(mid, hint)

    wait_for(lambda: provider.stats()["disconnects"] == dropped + 1, 5, 0.02, "the hang-up")
    assert ChatMessage.objects(id=msg.id).first().status == "pending"
    assert chunks(mid) == [] and tokens_of(user_id)["reserved"] == msg.reserved
    # A run that comes after all asks again.
    assert complete(mid, hint) == "done"
    assert calls(provider) == asked + 2
    assert tokens_of(user_id)["balance"] == before - ChatMessage.objects(id=msg.id).first().charged
    assert reconcile() == []
