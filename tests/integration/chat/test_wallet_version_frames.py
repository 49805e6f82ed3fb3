"""`walletVersion` in the snapshots the websocket and `POST /api/chat` send: every frame has
it, and a frame sent after a later wallet write has a higher one."""

from __future__ import annotations

from tests.support.chatkit import FREE, FREE2, FREE3

WORDS = [f"w{i} " for i in range(10)]


def test_frames_carry_increasing_wallet_versions(live, fake, ws, user, api):
    for model, delay in ((FREE, 0.0), (FREE2, 0.3), (FREE3, 0.6)):
        fake.scenario(model, deltas=WORDS, first_delay=delay, interval=0.01)
    ws.send(type="chat.send", requestId="versions-1", message="hi", models=[FREE, FREE2, FREE3])
    accepted = ws.until(lambda f: f["type"] == "accepted")
    mids = [m["messageId"] for m in accepted["messages"]]
    finals = ws.finals(mids)
    after_holds = accepted["user"]["walletVersion"]
    assert after_holds == 1 + 3  # the sign-up grant, then three holds
    versions = sorted(finals[mid]["user"]["walletVersion"] for mid in mids)
    assert versions[0] > after_holds and len(set(versions)) == 3  # one settlement each
    newest = max(finals.values(), key=lambda f: f["user"]["walletVersion"])
    assert newest["user"]["tokens"]["reserved"] == 0  # the newest snapshot has nothing held

    fake.scenario(FREE, deltas=WORDS * 20, interval=0.05)
    ws.send(type="chat.send", requestId="versions-2", message="long", models=[FREE])
    (mid,) = [m["messageId"] for m in ws.until(lambda f: f["type"] == "accepted")["messages"]]
    ws.until(lambda f: f["type"] == "chunk" and f["messageId"] == mid)
    ws.send(type="cancel", messageId=mid)
    cancelled = ws.finals([mid])[mid]
    assert cancelled["type"] == "cancelled"
    assert cancelled["user"]["walletVersion"] == versions[-1] + 2  # its hold, its settlement

    ws.send(type="chat.send", requestId="versions-3", message="", models=[FREE])
    error = ws.until(lambda f: f["type"] == "error")
    assert error["user"]["walletVersion"] == cancelled["user"]["walletVersion"]

    res = api.post("/api/chat", {"message": "and over http", "modelId": FREE})
    assert res.json()["data"]["user"]["walletVersion"] == cancelled["user"]["walletVersion"] + 1
