"""Send stores everything a worker needs before it enqueues (STYLE: enqueue after commit)."""

from __future__ import annotations

from common.conversations.models import ChatMessage, ChatSession
from common.sending.command import SendCommand
from common.sending.send import send
from common.users.models import User
from common.wallet.reconcile import reconcile
from tests.support.chatkit import FREE


def _send_with_a_worker_that_finishes_at_once(live, owner, **kwargs):
    """Enqueue for real, and wait inside `enqueue` until the worker has finished: the fastest
    worker there can be, which settles before `send` returns."""

    def enqueue(mid: str, hold: dict | None = None) -> None:
        assert live.celery.send_task("chat.complete", [mid, hold]).get(timeout=60) == "done"

    return send(SendCommand(user=owner, models=[FREE], **kwargs), enqueue)


def test_a_fast_worker_finds_a_new_session_and_its_totals_land(live, fake, user):
    fake.scenario(
        FREE, deltas=["quick ", "answer"], usage={"prompt_tokens": 7, "completion_tokens": 5}
    )
    owner = User.objects.get(id=user[0]["id"])
    result = _send_with_a_worker_that_finishes_at_once(live, owner, message="be quick")

    msg = ChatMessage.objects.get(id=result.messages[0].id)
    assert msg.status == "done" and msg.statsApplied
    session = ChatSession.objects.get(sessionId=result.session.sessionId)
    assert session.totalTokens == msg.usage.totalTokens == 12
    assert session.messageCount == 2 and session.title == "be quick"
    assert reconcile() == []


def test_a_fast_worker_adds_to_an_existing_session(live, fake, user):
    fake.scenario(FREE, deltas=["again"], usage={"prompt_tokens": 3, "completion_tokens": 2})
    owner = User.objects.get(id=user[0]["id"])
    first = _send_with_a_worker_that_finishes_at_once(live, owner, message="one")
    owner.reload()
    _send_with_a_worker_that_finishes_at_once(
        live, owner, message="two", session_id=first.session.sessionId
    )
    session = ChatSession.objects.get(sessionId=first.session.sessionId)
    assert session.totalTokens == 10 and session.messageCount == 4
