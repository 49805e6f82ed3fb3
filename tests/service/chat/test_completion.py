"""The worker's entry point, `common.engine.completion.complete`, run in this process against the
fake OpenRouter: what it charges, what it publishes to Redis, and what a failure or a cancel
leaves in the wallet."""

from __future__ import annotations

import json
import threading

from common.conversations.models import ChatMessage
from common.conversations.tokens import estimate_tokens
from common.engine.cancel import cancel_message
from common.engine.completion import complete
from common.sending.command import SendOptions
from common.streaming import channel
from common.wallet import pricing
from common.wallet import service as wallet
from common.wallet.reconcile import reconcile
from config import get_settings
from tests.fakes.catalog_data import default_models
from tests.service.chat.conftest import PAID
from tests.support.chatkit import tokens_of
from tests.support.services import wait_for

DELTAS = ["Al", " dente", " means", " to", " the", " tooth"]
USAGE = {"prompt_tokens": 40, "completion_tokens": 120, "total_tokens": 160}


def rates_of(model_id: str) -> pricing.Rates:
    entry = next(m for m in default_models() if m["id"] == model_id)
    prices = (float(entry["pricing"]["prompt"]), float(entry["pricing"]["completion"]))
    return pricing.rates_for(*prices, pricing.Tariff.from_settings(get_settings()))


def chunks(message_id: str) -> list[dict]:
    frames = (json.loads(raw) for raw in channel.buffered(message_id))
    return [f for f in frames if f.get("type") == "chunk"]


def ledger_kinds(user_id: str, message_id: str) -> list[str]:
    return [e["kind"] for e in wallet.entries_for(user_id) if e["key"] == message_id]


def pending_answer(member, send_as) -> tuple[str, ChatMessage, int]:
    """A pro user's send to the paid model: (user id, its pending answer, balance before)."""
    user = member("pro")
    before = tokens_of(str(user.id))["balance"]
    [msg] = send_as(
        user, "What does al dente mean?", PAID, options=SendOptions(max_tokens=200)
    ).messages
    return str(user.id), msg, before


def test_a_finished_answer_is_charged_its_usage_at_the_held_rates_and_published_in_order(
    provider, member, send_as
):
    provider.scenario(PAID, deltas=DELTAS, usage=USAGE)
    user_id, msg, before = pending_answer(member, send_as)
    mid = str(msg.id)

    assert complete(mid) == "done"

    charge = pricing.tokens_for(USAGE["prompt_tokens"], USAGE["completion_tokens"], rates_of(PAID))
    assert 0 < charge < msg.reserved  # usage, not the hold
    final = ChatMessage.objects(id=msg.id).first()
    assert (final.status, final.content, final.charged) == ("done", "".join(DELTAS), charge)
    assert [(c["seq"], c["delta"]) for c in chunks(mid)] == list(enumerate(DELTAS, start=1))
    assert channel.final_frame(mid)["type"] == "done"
    assert channel.final_frame(mid)["charged"] == charge
    assert tokens_of(user_id) == {
        "balance": before - charge,
        "reserved": 0,
        "used": charge,
        "holds": {},
    }
    assert ledger_kinds(user_id, mid) == ["charge"]
    assert reconcile() == []


def test_a_provider_error_charges_nothing_and_releases_the_hold(provider, member, send_as):
    provider.scenario(PAID, status=400, error="Bad request for this model")
    user_id, msg, before = pending_answer(member, send_as)
    mid = str(msg.id)

    assert complete(mid) == "failed"

    final = ChatMessage.objects(id=msg.id).first()
    assert (final.status, final.charged) == ("failed", 0)
    assert channel.final_frame(mid)["type"] == "error"
    assert tokens_of(user_id) == {"balance": before, "reserved": 0, "used": 0, "holds": {}}
    assert ledger_kinds(user_id, mid) == ["release"]
    assert reconcile() == []


def test_a_cancel_mid_stream_charges_what_the_clients_were_sent(provider, member, send_as):
    words = [f" w{i}" for i in range(200)]
    provider.scenario(PAID, deltas=words, interval=0.02)  # stopped long before the usage chunk
    user_id, msg, before = pending_answer(member, send_as)
    mid = str(msg.id)
    ran: list[str] = []
    worker = threading.Thread(target=lambda: ran.append(complete(mid)))
    worker.start()
    wait_for(lambda: channel.chunk_count(mid) >= 3, 10, what="three chunks published")

    cancel_message(user_id, mid)
    worker.join(10)

    assert ran == ["cancelled"]
    final = ChatMessage.objects(id=msg.id).first()
    sent = "".join(c["delta"] for c in chunks(mid))
    assert final.status == "cancelled" and final.content == sent
    assert 3 <= len(chunks(mid)) < len(words)
    # No usage from the provider: the stored prompt estimate and the sent text, estimated.
    charge = pricing.tokens_for(final.promptEstimate, estimate_tokens(sent), rates_of(PAID))
    assert final.charged == charge > 0 and final.receipt["estimated"] is True
    assert tokens_of(user_id) == {
        "balance": before - charge,
        "reserved": 0,
        "used": charge,
        "holds": {},
    }
    assert channel.final_frame(mid)["type"] == "cancelled"
    assert reconcile() == []
