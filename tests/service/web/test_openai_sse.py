"""Following an answer for an HTTP response (web/openai/sse.py) on real Redis pub/sub."""

from __future__ import annotations

import pytest
from bson import ObjectId

from common.errors import ServiceUnavailable
from common.streaming import channel
from web.openai import sse


def test_frames_arrive_once_in_order_then_the_final_one(settings):
    mid = str(ObjectId())
    channel.publish_chunks(mid, 1, ["a", "b"])  # buffered before anyone follows
    with sse.Follow(mid) as follow:
        channel.publish_chunks(mid, 3, ["c"])
        channel.publish_final(mid, {"type": "done", "seq": 3, "content": "abc"})
        frames = [f for f in follow.frames(keepalive=0.05) if f is not None]
    assert [f.get("delta") for f in frames[:-1]] == ["a", "b", "c"]
    assert frames[-1]["type"] == "done" and follow.final == frames[-1]


def test_a_silent_answer_ends_as_service_unavailable(settings, monkeypatch):
    monkeypatch.setattr(sse, "MAX_SILENCE_SECONDS", 0.3)
    with sse.Follow(str(ObjectId())) as follow:
        keepalives = 0
        with pytest.raises(ServiceUnavailable):
            for frame in follow.frames(keepalive=0.05):
                assert frame is None
                keepalives += 1
    assert keepalives >= 2


def test_frames_that_arrived_together_come_as_one_batch(settings):
    """What the relay writes to the client at once: everything that had arrived."""
    mid = str(ObjectId())
    channel.publish_chunks(mid, 1, ["a", "b", "c"])
    channel.publish_final(mid, {"type": "done", "seq": 3, "content": "abc"})
    with sse.Follow(mid) as follow:
        batches = [b for b in follow.batches(keepalive=0.05) if b]
    assert [[f["type"] for f in b] for b in batches] == [["chunk", "chunk", "chunk", "done"]]
    assert follow.final["type"] == "done"
