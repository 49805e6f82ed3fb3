"""What `common.engine.liveness` observes in the real Redis, and what it decides from it."""

from __future__ import annotations

import redis
from bson import ObjectId

from common.conversations.models import ChatMessage
from common.engine import liveness
from common.streaming import channel
from config import get_settings


def streaming(claim_token: str) -> ChatMessage:
    msg = ChatMessage(
        sessionId="chat_live",
        userId=ObjectId(),
        role="assistant",
        content="",
        modelId="fake/echo",
        status="streaming",
        claimToken=claim_token,
    )
    msg.save()
    return msg


def beacon_connection(worker_id: str, steady: float = 0.0) -> redis.Redis:
    """A worker's beacon, made as `liveness.Beacon` makes it: its own connection."""
    conn = redis.Redis.from_url(get_settings().redis_url, single_connection_client=True)
    stall = get_settings().worker_stall_seconds
    channel.beat(conn, worker_id, int(conn.client_id()), steady, stall)
    return conn


def test_a_lapsed_lease_of_a_worker_that_is_still_connected_is_waited_for(settings):
    msg = streaming("w-alive/t1")
    conn = beacon_connection("w-alive")
    try:
        seen = liveness.observe([msg])[str(msg.id)]
        assert not seen.lease_held and seen.worker.connected is True
        assert 0 <= seen.worker.beat_age < 2
        assert liveness.dead([msg]) == []
    finally:
        conn.close()


def test_a_run_missing_from_a_steadily_beating_worker_is_dead(settings):
    """Its process has beaten steadily for longer than a lease, yet the run's lease is gone:
    the run ended without settling (the outcome it kept is applied by whoever interrupts)."""
    msg = streaming("w-steady/t1")
    conn = beacon_connection("w-steady", steady=get_settings().hold_lease_seconds + 1)
    try:
        seen = liveness.observe([msg])[str(msg.id)]
        assert seen.worker.connected is True and seen.worker.steady > seen.worker.beat_age
        assert liveness.dead([msg]) == [msg]
    finally:
        conn.close()


def test_a_worker_whose_connection_closed_is_seen_dead_at_once(settings):
    msg = streaming("w-killed/t1")
    beacon_connection("w-killed").close()  # what a killed process's kernel does
    assert liveness.observe([msg])[str(msg.id)].worker.connected is False
    assert liveness.dead([msg]) == [msg]


def test_a_held_lease_is_alive_and_a_worker_without_a_beacon_is_not(settings):
    held, orphan = streaming("w-held/t1"), streaming("w-never/t1")
    assert channel.take_lease(str(held.id), "w-held/t1", 30)
    assert liveness.dead([held, orphan]) == [orphan]


def test_a_run_that_just_published_is_alive_without_a_lease_or_a_worker(settings):
    msg = streaming("legacy-token")
    assert channel.publish_chunks(str(msg.id), 1, ["hello"]) == channel.PUBLISHED
    seen = liveness.observe([msg])[str(msg.id)]
    assert seen.worker is None and 0 <= seen.publish_age < 2
    assert liveness.dead([msg]) == []
    assert liveness.dead([streaming("legacy-token-2")]) != []


def test_final_and_pending_messages_are_not_judged(settings):
    msg = streaming("w-x/t1")
    msg.update(set__status="done")
    msg.reload()
    assert liveness.observe([msg]) == {} and liveness.dead([msg]) == []


def test_this_process_beacon_names_it_in_its_claim_tokens(settings):
    beacon = liveness.Beacon.current()
    token = beacon.token()
    assert liveness.worker_of(token) == beacon.worker_id
    beacon.beat()
    msg = streaming(token)
    seen = liveness.observe([msg])[str(msg.id)]
    assert seen.worker.connected is True and 0 <= seen.worker.beat_age < 1
