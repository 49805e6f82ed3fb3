"""Per-model rates through the real stack: gunicorn + a Celery worker + Redis + nx-27017 + the
fake OpenRouter. Expected charges are computed from the rule's inputs (catalog prices, the
stack's tariff, the provider's usage), never written down as bare numbers."""

from __future__ import annotations

import uuid

import pytest
import requests

from common.catalog.service import invalidate_cache, sync_provider
from common.conversations.models import ChatMessage
from common.users.models import User
from common.wallet import pricing
from common.wallet import service as wallet
from common.wallet.reconcile import reconcile
from tests.fakes.catalog_data import default_models
from tests.support.chatkit import FREE, PAID, set_balance, tokens_of
from tests.support.services import wait_for

USAGE = {"prompt_tokens": 40, "completion_tokens": 300, "total_tokens": 340}
PAID_PRICES = (0.0000025, 0.00001)  # the fake catalog's openai/gpt-4o, USD per token


@pytest.fixture(scope="module")
def stack_settings(base_settings, fake):
    """Not the defaults, so the test proves the processes price by the configured settings."""
    return base_settings.with_overrides(
        openrouter_base_url=fake.base_url,
        hold_lease_seconds=2,
        token_value_inr=0.001,
        usd_inr=90.0,
        price_margin=0.5,
        free_model_rate=400,
    )


@pytest.fixture
def tariff(stack_settings):
    return pricing.Tariff.from_settings(stack_settings)


@pytest.fixture
def pro(live, user):
    User.objects(id=user[0]["id"]).update_one(set__subscription__plan="pro")
    return user


def _send(ws, model, message="the same prompt for both", **options):
    ws.send(
        type="chat.send",
        requestId=uuid.uuid4().hex,
        message=message,
        models=[model],
        options=options,
    )
    accepted = ws.until(lambda f: f["type"] in ("accepted", "error"))
    assert accepted["type"] == "accepted", accepted
    return accepted["messages"][0]["messageId"], accepted


def _cost(prompt_price, completion_price, usage=USAGE) -> float:
    return round(
        usage["prompt_tokens"] * prompt_price + usage["completion_tokens"] * completion_price, 12
    )


def test_a_free_and_a_paid_model_are_each_charged_their_own_rate(live, fake, ws, pro, tariff):
    uid = pro[0]["id"]
    wallet.credit(uid, 5_000, f"buy-{uid}", "test")
    set_balance(uid, 5_500)  # spends free tokens first: 500 free, 5,000 purchased left
    for model, prices in ((FREE, (0.0, 0.0)), (PAID, PAID_PRICES)):
        fake.scenario(model, deltas=["same ", "answer"], usage={**USAGE, "cost": _cost(*prices)})
    receipts = {}
    for model, prices in ((FREE, (0.0, 0.0)), (PAID, PAID_PRICES)):
        before = User.objects(id=uid).first().tokens
        mid, _ = _send(ws, model, maxTokens=400)
        done = ws.finals([mid])[mid]
        assert done["type"] == "done", done
        rates = pricing.rates_for(*prices, tariff)
        charged = pricing.tokens_for(USAGE["prompt_tokens"], USAGE["completion_tokens"], rates)
        from_free = min(charged, before.freeTokens)
        assert done["charged"] == charged
        assert done["receipt"] == {
            "promptTokens": USAGE["prompt_tokens"],
            "completionTokens": USAGE["completion_tokens"],
            "estimated": False,
            "rates": rates.as_dict(),
            "charged": charged,
            "fromFree": from_free,
            "fromPurchased": charged - from_free,
            "providerCost": _cost(*prices),
        }
        after = done["user"]["tokens"]
        assert after["freeTokens"] == before.freeTokens - from_free
        assert after["purchasedTokens"] == before.purchasedTokens - (charged - from_free)
        entry = wallet._ledger().find_one({"key": mid})
        assert (entry["kind"], entry["amount"], entry["free"], entry["purchased"]) == (
            "charge",
            -charged,
            -from_free,
            -(charged - from_free),
        )
        assert entry["details"]["rates"] == rates.as_dict()
        msg = ChatMessage.objects(id=mid).first()
        assert msg.receipt == done["receipt"] and msg.providerCost == _cost(*prices)
        receipts[model] = done["receipt"]
    assert receipts[PAID]["charged"] > receipts[FREE]["charged"]
    assert receipts[FREE]["rates"] == {"prompt": 400, "completion": 400}
    # The purchased pool paid for part of the paid answer (free tokens ran out first).
    assert receipts[PAID]["fromFree"] > 0 and receipts[PAID]["fromPurchased"] > 0
    assert reconcile() == []


def test_the_stored_answer_and_the_synchronous_answer_carry_the_receipt(live, fake, api, pro):
    fake.scenario(PAID, deltas=["sync"], usage=USAGE)
    res = api.post("/api/chat", {"message": "hi", "modelId": PAID, "wait": True})
    assert res.status_code == 200, res.json()
    data = res.json()["data"]
    receipt = data["receipt"]
    assert data["charged"] == receipt["charged"] == data["message"]["charged"] > 0
    assert data["message"]["receipt"] == receipt
    stored = api.get(f"/api/chat/messages/{data['message']['id']}").json()["data"]["message"]
    assert stored["receipt"] == receipt and stored["rates"] == receipt["rates"]
    assert receipt["fromFree"] + receipt["fromPurchased"] == receipt["charged"]
    assert reconcile() == []


def test_without_a_usage_report_the_estimate_is_charged_and_flagged(live, fake, ws, pro, tariff):
    fake.scenario(PAID, deltas=["four", " words", " right", " here"], usage=False)
    mid, _ = _send(ws, PAID, maxTokens=100)
    done = ws.finals([mid])[mid]
    msg = ChatMessage.objects(id=mid).first()
    rates = pricing.rates_for(*PAID_PRICES, tariff)
    receipt = done["receipt"]
    assert receipt["estimated"] is True and "providerCost" not in receipt
    assert receipt["promptTokens"] == msg.promptEstimate
    assert (
        receipt["charged"]
        == done["charged"]
        == pricing.tokens_for(msg.promptEstimate, receipt["completionTokens"], rates)
    )
    assert msg.providerCost is None
    assert reconcile() == []


def test_a_cancelled_answer_has_a_receipt_for_what_was_generated(live, fake, ws, pro, tariff):
    fake.scenario(PAID, deltas=[f"c{i} " for i in range(400)], interval=0.05)
    mid, accepted = _send(ws, PAID, maxTokens=1000)
    ws.until(lambda f: f["type"] == "chunk" and f["seq"] == 3)
    ws.send(type="cancel", messageId=mid)
    final = ws.finals([mid])[mid]
    assert final["type"] == "cancelled", final
    receipt, msg = final["receipt"], ChatMessage.objects(id=mid).first()
    rates = pricing.rates_for(*PAID_PRICES, tariff)
    assert receipt["estimated"] is True and receipt["promptTokens"] == msg.promptEstimate
    expected = pricing.tokens_for(msg.promptEstimate, receipt["completionTokens"], rates)
    assert 0 < final["charged"] == receipt["charged"] == expected < msg.reserved
    assert receipt["fromFree"] == final["charged"]
    assert final["user"]["tokens"]["reserved"] == 0
    assert reconcile() == []


def test_a_catalog_price_change_after_the_hold_does_not_change_the_charge(
    live, fake, api, pro, tariff
):
    held_rates = pricing.rates_for(*PAID_PRICES, tariff)
    fake.scenario(PAID, deltas=["priced ", "at ", "send"], usage=USAGE)
    live.kill_worker()  # the answer waits in the queue while the catalog changes
    try:
        res = api.post("/api/chat", {"message": "hi", "modelId": PAID})
        assert res.status_code == 202, res.json()
        mid = res.json()["data"]["messages"][0]["id"]
        hold = tokens_of(pro[0]["id"])["reserved"]
        models = default_models()
        entry = next(m for m in models if m["id"] == PAID)
        entry["pricing"].update(prompt="0.000025", completion="0.0001")  # ten times dearer
        fake.set_models(models)
        invalidate_cache()
        sync_provider("openrouter")
        new = api.get(f"/api/models/{PAID}").json()["data"]["model"]["rates"]
        assert new == pricing.rates_for(0.000025, 0.0001, tariff).as_dict() != held_rates
    finally:
        live.start_worker()  # a fresh process: it has only ever seen the new price
        live.wait_healthy()
    wait_for(lambda: ChatMessage.objects(id=mid).first().status == "done", 60, what="the answer")
    # Without transactions (nx-27017) the message turns final a moment before its hold closes.
    wait_for(lambda: not tokens_of(pro[0]["id"])["holds"], 10, what="the hold to close")
    msg = ChatMessage.objects(id=mid).first()
    expected = pricing.tokens_for(USAGE["prompt_tokens"], USAGE["completion_tokens"], held_rates)
    assert msg.receipt["rates"] == msg.rates == held_rates.as_dict()
    assert msg.charged == msg.receipt["charged"] == expected <= hold
    assert tokens_of(pro[0]["id"])["balance"] == 10_000 - expected
    assert reconcile() == []


def test_a_catalog_price_change_mid_answer_does_not_change_the_charge(live, fake, ws, pro, tariff):
    """The stream outlasts the worker's 10 s memory of the model (`catalog_cache`), so a rule
    that looked the price up again at the end would see the new one."""
    held_rates = pricing.rates_for(*PAID_PRICES, tariff)
    deltas = [f"s{i} " for i in range(26)]
    fake.scenario(PAID, deltas=deltas, interval=0.5, usage=USAGE)
    mid, _ = _send(ws, PAID, maxTokens=400)
    ws.until(lambda f: f["type"] == "chunk" and f["seq"] == 2)
    models = default_models()
    next(m for m in models if m["id"] == PAID)["pricing"].update(prompt="0", completion="0")
    fake.set_models(models)  # the paid model turns free mid-answer
    invalidate_cache()
    sync_provider("openrouter")
    done = ws.finals([mid], timeout=90)[mid]
    assert done["type"] == "done" and done["seq"] == len(deltas), done
    expected = pricing.tokens_for(USAGE["prompt_tokens"], USAGE["completion_tokens"], held_rates)
    assert done["receipt"]["rates"] == held_rates.as_dict()
    assert done["charged"] == done["receipt"]["charged"] == expected
    assert done["user"]["tokens"]["balance"] == 10_000 - expected
    assert reconcile() == []


def test_estimate_answers_hold_and_likely_per_model_and_places_nothing(live, api, pro, tariff):
    body = {"message": "how much would this cost?", "models": [FREE, PAID]}
    body["options"] = {"maxTokens": 300}
    before = tokens_of(pro[0]["id"])
    res = api.post("/api/chat/estimate", body)
    assert res.status_code == 200, res.json()
    data = res.json()["data"]
    assert [m["modelId"] for m in data["models"]] == [FREE, PAID]
    for m, prices in zip(data["models"], ((0.0, 0.0), PAID_PRICES), strict=True):
        rates = pricing.rates_for(*prices, tariff)
        assert m["rates"] == rates.as_dict() and m["maxTokens"] == 300
        assert m["hold"] == pricing.hold_for(m["promptTokens"], 300, rates)
        assert m["likely"] == pricing.likely_for(m["promptTokens"], 300, rates) <= m["hold"]
    assert data["total"] == sum(m["hold"] for m in data["models"])
    assert tokens_of(pro[0]["id"]) == before and data["user"]["tokens"]["reserved"] == 0
    assert ChatMessage.objects.count() == 0
    assert [e["kind"] for e in wallet.entries_for(pro[0]["id"])] == ["grant"]
    # The send with the same body holds exactly the estimate.
    res = api.post("/api/chat", body)
    assert (
        res.status_code == 202
        and res.json()["data"]["user"]["tokens"]["reserved"] == (data["total"])
    )
    ids = [m["id"] for m in res.json()["data"]["messages"]]
    wait_for(
        lambda: all(ChatMessage.objects(id=i).first().status == "done" for i in ids),
        60,
        what="both answers",
    )
    assert reconcile() == []


@pytest.mark.parametrize(
    "body, status",
    [
        ({"message": "", "modelId": FREE}, 400),
        ({"message": "hi"}, 400),
        ({"message": "hi", "modelId": "nope/unknown"}, 404),
        ({"message": "hi", "modelId": FREE, "options": {"maxTokens": 0}}, 400),
        ({"message": "hi", "modelId": FREE, "options": {"maxTokens": 4001}}, 400),
        ({"message": "hi", "modelId": FREE, "options": {"maxTokens": "lots"}}, 400),
        ({"message": {"$ne": None}, "modelId": FREE}, 400),
        ({"message": "hi", "models": [FREE, {"$gt": ""}]}, 400),
        ({"message": "x" * 32_001, "modelId": FREE}, 413),
        ({"message": "hi", "modelId": FREE, "sessionId": "chat_nope"}, 404),
    ],
)
def test_estimate_refuses_bad_bodies_like_a_send_and_places_nothing(live, api, user, body, status):
    before = tokens_of(user[0]["id"])
    res = api.post("/api/chat/estimate", body)
    assert res.status_code == status, res.json()
    err = res.json()
    assert err["status"] == "error" and {"message", "code", "details"} <= set(err)
    assert tokens_of(user[0]["id"]) == before and ChatMessage.objects.count() == 0


def test_estimate_needs_a_token(live):
    res = requests.post(live.base_url + "/api/chat/estimate", json={"message": "hi"}, timeout=30)
    assert res.status_code == 401 and res.json()["code"] == "UNAUTHORIZED"


def test_insufficient_tokens_names_the_hold_at_the_models_rates(live, api, pro):
    body = {"message": "hi", "modelId": PAID, "options": {"maxTokens": 2000}}
    need = api.post("/api/chat/estimate", body).json()["data"]["total"]
    set_balance(pro[0]["id"], need - 1)
    res = api.post("/api/chat", body)
    assert res.status_code == 402, res.json()
    err = res.json()
    assert err["code"] == "INSUFFICIENT_TOKENS"
    assert (err["details"]["required"], err["details"]["available"]) == (need, need - 1)
    assert tokens_of(pro[0]["id"])["reserved"] == 0 and ChatMessage.objects.count() == 0
