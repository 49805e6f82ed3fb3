"""`common.sending.send.send` in-process: holds at each model's rates, what it stores, the checks
that refuse a send (balance, paywall, daily limit) writing nothing, and replays by key.

Expected holds come from the rule's inputs — the fake catalog's prices and the tariff in the
settings — never from what the send stored."""

from __future__ import annotations

import pytest

from common.conversations.models import ChatMessage, ChatSession
from common.conversations.tokens import estimate_prompt
from common.errors import DailyLimit, InsufficientTokens, Paywall
from common.sending.command import SendOptions
from common.users.models import User
from common.wallet import pricing
from common.wallet import service as wallet
from common.wallet.reconcile import reconcile
from config import get_settings
from tests.fakes.catalog_data import default_models
from tests.service.chat.conftest import OTHER_PAID, PAID
from tests.support.chatkit import set_balance, tokens_of

TEXT = "Tell me about pasta shapes"
MAX_TOKENS = 200


def expected_hold(model_id: str, text: str = TEXT, max_tokens: int = MAX_TOKENS) -> int:
    """The documented hold: prompt estimate and all of maxTokens at the catalog price's rates."""
    entry = next(m for m in default_models() if m["id"] == model_id)
    prices = (float(entry["pricing"]["prompt"]), float(entry["pricing"]["completion"]))
    rates = pricing.rates_for(*prices, pricing.Tariff.from_settings(get_settings()))
    prompt = estimate_prompt([{"role": "user", "content": text}])
    return pricing.tokens_for(prompt, max_tokens, rates)


def options() -> SendOptions:
    return SendOptions(max_tokens=MAX_TOKENS)


def stored(document, user: User) -> list:
    """`user`'s documents. `userId__in` and a list, not `count()`: nx-27017 matches an ObjectId
    field other than `_id` only through `$in`, and does not count such a filter."""
    return list(document.objects(userId__in=[user.id]))


def nothing_written(user: User, balance: int) -> None:
    assert stored(ChatMessage, user) == []
    assert stored(ChatSession, user) == []
    assert tokens_of(str(user.id)) == {
        "balance": balance,
        "reserved": 0,
        "used": 0,
        "holds": {},
    }


def test_a_send_holds_at_the_models_rates_stores_a_pending_answer_then_enqueues_it(
    member, send_as, enqueued
):
    user = member("pro")
    before = tokens_of(str(user.id))["balance"]

    result = send_as(user, TEXT, PAID, options=options())

    [msg] = result.messages
    hold = wallet.get_hold(user.id, str(msg.id))
    assert hold.amount == expected_hold(PAID) > 0
    stored = ChatMessage.objects(id=msg.id).first()
    assert (stored.status, stored.modelId, stored.reserved) == ("pending", PAID, hold.amount)
    assert stored.parentId == result.user_message.id
    assert ChatMessage.objects(id=result.user_message.id).first().content == TEXT
    assert ChatSession.objects(sessionId=result.session.sessionId).first().messageCount == 2
    assert tokens_of(str(user.id))["balance"] == before - hold.amount
    assert tokens_of(str(user.id))["reserved"] == hold.amount
    assert enqueued == [str(msg.id)]
    assert reconcile() == []


def test_several_models_each_get_their_own_hold(member, send_as, enqueued):
    user = member("pro")
    result = send_as(user, TEXT, PAID, OTHER_PAID, options=options())

    holds = {m.modelId: wallet.get_hold(user.id, str(m.id)).amount for m in result.messages}
    assert holds == {PAID: expected_hold(PAID), OTHER_PAID: expected_hold(OTHER_PAID)}
    assert holds[PAID] != holds[OTHER_PAID]  # each at its own model's rates
    assert enqueued == [str(m.id) for m in result.messages]


def test_too_few_tokens_for_one_model_of_several_holds_none_and_answers_402(
    member, send_as, enqueued
):
    user = member("pro")
    both = expected_hold(PAID) + expected_hold(OTHER_PAID)
    set_balance(str(user.id), both - 1)  # room for either model alone, not for both

    with pytest.raises(InsufficientTokens) as refused:
        send_as(user, TEXT, PAID, OTHER_PAID, options=options())

    assert refused.value.status == 402
    assert refused.value.details["required"] == both
    assert refused.value.details["available"] == both - 1
    nothing_written(user, both - 1)
    assert enqueued == []
    assert reconcile() == []


def test_a_free_plan_cannot_send_to_a_paid_model(member, send_as, enqueued):
    user = member("free")
    balance = tokens_of(str(user.id))["balance"]

    with pytest.raises(Paywall) as refused:
        send_as(user, TEXT, PAID, options=options())

    assert refused.value.status == 403
    nothing_written(user, balance)
    assert enqueued == []


def test_the_daily_limit_counts_one_request_per_model_and_refuses_past_it(
    member, send_as, enqueued
):
    user = member("pro")
    User.objects(id=user.id).update_one(set__subscription__limits__requestsPerDay=3)
    send_as(user, TEXT, PAID, OTHER_PAID, options=options())  # 2 of 3
    held = tokens_of(str(user.id))

    with pytest.raises(DailyLimit) as refused:
        send_as(user, TEXT, PAID, OTHER_PAID, options=options())  # would be 4 of 3

    assert refused.value.status == 429
    assert refused.value.details == {"limit": 3, "used": 2, "requested": 2}
    assert tokens_of(str(user.id)) == held  # the refused send holds nothing
    assert len(stored(ChatMessage, user)) == 3  # the first send's three
    assert len(enqueued) == 2
    send_as(user, TEXT, PAID, options=options())  # the refused send counted nothing: 3 of 3


def test_a_repeated_key_answers_with_the_first_send_and_holds_once(member, send_as, enqueued):
    user = member("pro")
    first = send_as(user, TEXT, PAID, options=options(), idempotency_key="k-1")
    after_first = tokens_of(str(user.id))

    again = send_as(user, TEXT, PAID, options=options(), idempotency_key="k-1")

    assert again.replayed and not first.replayed
    assert [m.id for m in again.messages] == [m.id for m in first.messages]
    assert again.user_message.id == first.user_message.id
    assert tokens_of(str(user.id)) == after_first
    assert len(stored(ChatMessage, user)) == 2
    assert enqueued == [str(first.messages[0].id)]  # not enqueued again (not stale)


def test_a_repeated_regenerate_answers_with_its_first_answer(member, send_as, enqueued):
    """A regenerate stores no user message: its key rides on its first new answer."""
    user = member("pro")
    first = send_as(user, TEXT, PAID, options=options())
    sid, asked = first.session.sessionId, str(first.user_message.id)
    again = send_as(user, "", PAID, session_id=sid, parent_id=asked, idempotency_key="re-1")
    repeat = send_as(user, "", PAID, session_id=sid, parent_id=asked, idempotency_key="re-1")
    assert repeat.replayed and repeat.regenerated and not again.replayed
    assert [m.id for m in repeat.messages] == [m.id for m in again.messages]
    assert repeat.user_message.id == first.user_message.id
    assert repeat.leaf_id == again.leaf_id == str(again.messages[0].id)
    assert len(stored(ChatMessage, user)) == 3  # the question and its two answers
    assert ChatSession.objects.get(sessionId=sid).messageCount == 3
    assert enqueued == [str(first.messages[0].id), str(again.messages[0].id)]


def test_a_refused_send_frees_its_key_and_a_repeat_into_a_session_keeps_its_leaf(
    member, send_as, enqueued
):
    user = member("pro")
    first = send_as(user, TEXT, PAID, options=options())
    sid = first.session.sessionId
    shown = ChatSession.objects.get(sessionId=sid).currentLeafId
    balance = tokens_of(str(user.id))["balance"]
    set_balance(str(user.id), 1)
    with pytest.raises(InsufficientTokens):
        send_as(user, "More?", PAID, session_id=sid, options=options(), idempotency_key="k-2")
    assert ChatMessage.objects(requestKey__exists=True).first() is None  # the key is free
    assert ChatSession.objects.get(sessionId=sid).currentLeafId == shown  # its leaf put back
    wallet.credit(str(user.id), balance, f"topup-{user.id}", "test")
    sent = send_as(user, "More?", PAID, session_id=sid, options=options(), idempotency_key="k-2")
    again = send_as(user, "More?", PAID, session_id=sid, options=options(), idempotency_key="k-2")
    assert not sent.replayed and again.replayed and again.messages[0].id == sent.messages[0].id
    assert again.leaf_id == sent.leaf_id == str(sent.messages[0].id)  # the repeat's undone
    assert ChatSession.objects.get(sessionId=sid).messageCount == 4
    assert list(tokens_of(str(user.id))["holds"]) == [
        str(first.messages[0].id),
        str(sent.messages[0].id),
    ]
    assert reconcile() == []


def test_a_repeat_on_a_balance_its_first_send_spent_answers_with_it_not_402(
    member, send_as, enqueued
):
    """The repeat's own hold is refused (the first send holds the whole balance), but its
    insert found the key: it answers with the first send."""
    user = member("pro")
    set_balance(str(user.id), expected_hold(PAID))
    first = send_as(user, TEXT, PAID, options=options(), idempotency_key="k-3")
    assert tokens_of(str(user.id))["balance"] == 0
    again = send_as(user, TEXT, PAID, options=options(), idempotency_key="k-3")
    assert again.replayed and [m.id for m in again.messages] == [m.id for m in first.messages]
    assert list(tokens_of(str(user.id))["holds"]) == [str(first.messages[0].id)]
    assert len(stored(ChatMessage, user)) == 2 and enqueued == [str(first.messages[0].id)]
    assert reconcile() == []
