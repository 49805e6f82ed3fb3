"""The stream channel and the web process's hub against real Redis (no other processes)."""

from __future__ import annotations

import json
import threading

from common.streaming import channel
from tests.support.services import wait_for
from web.streams import Hub, Subscription


class Collector:
    """Stands in for a socket's outbox: records what would be sent, in order."""

    def __init__(self):
        self.frames: list[dict] = []
        self.lock = threading.Lock()

    def put(self, text: str) -> None:
        with self.lock:
            self.frames.append(json.loads(text))


def test_chunks_are_appended_in_order_once_and_nothing_after_the_final(settings):
    mid = "a" * 24
    assert channel.publish_chunks(mid, 1, ["x"]) == channel.PUBLISHED
    assert channel.publish_chunks(mid, 1, ["x"]) == channel.REFUSED  # a duplicate
    assert channel.publish_chunks(mid, 3, ["z"]) == channel.GAP  # a gap: nothing stored
    assert channel.publish_chunks(mid, 2, ["y"]) == channel.PUBLISHED
    assert channel.publish_final(mid, {"type": "done", "seq": 2})
    assert not channel.publish_final(mid, {"type": "error", "seq": 2})
    assert channel.publish_chunks(mid, 3, ["late"]) == channel.REFUSED
    frames = [json.loads(f) for f in channel.buffered(mid)]
    assert [f.get("seq") for f in frames] == [1, 2, 2] and frames[-1]["type"] == "done"
    assert channel.chunk_count(mid) == 2


def test_cancel_flag_stops_the_next_chunk(settings):
    mid = "b" * 24
    assert channel.publish_chunks(mid, 1, ["x"]) == channel.PUBLISHED
    channel.request_cancel(mid)
    assert channel.publish_chunks(mid, 2, ["y"]) == channel.CANCELLED
    assert channel.publish_final(mid, {"type": "cancelled", "seq": 1})


def test_subscribe_replays_after_seq_then_goes_live_without_gap_or_duplicate(settings):
    hub, out, mid = Hub(), Collector(), "c" * 24
    for seq in (1, 2, 3):
        channel.publish_chunks(mid, seq, [f"d{seq}"])
    sub = Subscription(hub, out, mid, after_seq=1)
    sub.start()
    for seq in (4, 5):
        channel.publish_chunks(mid, seq, [f"d{seq}"])
    channel.publish_final(mid, {"type": "done", "seq": 5})
    wait_for(lambda: out.frames and out.frames[-1]["type"] == "done", 10, what="the done frame")
    assert [f.get("seq") for f in out.frames] == [2, 3, 4, 5, 5]
    sub.resync()  # a listener reconnect re-reads the buffer: nothing is sent twice
    assert len(out.frames) == 5 and hub.count() == 0


def test_frames_arriving_during_the_replay_are_held_then_deduplicated(settings):
    hub, out, mid = Hub(), Collector(), "d" * 24
    channel.publish_chunks(mid, 1, ["a"])
    sub = Subscription(hub, out, mid, after_seq=0)
    hub.attach(sub)
    # Live frames seen before the buffer is read (one of them also in the buffer).
    sub.on_live(json.dumps({"type": "chunk", "messageId": mid, "seq": 1, "delta": "a"}))
    channel.publish_chunks(mid, 2, ["b"])
    sub.on_live(json.dumps({"type": "chunk", "messageId": mid, "seq": 2, "delta": "b"}))
    sub.resync()
    wait_for(lambda: len(out.frames) >= 2, 10, what="the replay")
    assert [f["seq"] for f in out.frames] == [1, 2]
    sub.stop()


def test_a_batch_is_stored_as_separate_frames_and_published_as_one_message(settings):
    from common.redis_client import get_redis

    mid = "e" * 24
    listener = get_redis().pubsub()
    listener.subscribe(channel.channel(mid))
    wait_for(lambda: listener.get_message(timeout=1), 5, what="the subscription")
    assert channel.publish_chunks(mid, 1, ["a", "b\nc", "d"]) == channel.PUBLISHED
    assert channel.publish_chunks(mid, 3, ["again"]) == channel.REFUSED  # not the next seq
    assert channel.publish_chunks(mid, 5, ["gap"]) == channel.GAP
    message = wait_for(lambda: listener.get_message(timeout=1), 5, what="the batch")
    frames = channel.split_frames(message["data"])
    assert [json.loads(f) for f in frames] == [
        {"type": "chunk", "messageId": mid, "seq": 1, "delta": "a"},
        {"type": "chunk", "messageId": mid, "seq": 2, "delta": "b\nc"},
        {"type": "chunk", "messageId": mid, "seq": 3, "delta": "d"},
    ]
    assert channel.buffered(mid) == frames  # the replay buffer keeps one frame per seq
    assert [channel.chunk_seq(f) for f in frames] == [1, 2, 3]
    assert channel.chunk_seq(json.dumps({"type": "chunk", "seq": 7, "delta": "x"})) == 7
    assert channel.chunk_seq(json.dumps({"type": "done", "seq": 3})) is None
    channel.request_cancel(mid)
    assert channel.publish_chunks(mid, 4, ["e", "f"]) == channel.CANCELLED
    assert channel.chunk_count(mid) == 3
    listener.close()


def test_a_live_batch_fans_out_frame_by_frame_skipping_what_was_sent(settings):
    hub, out, mid = Hub(), Collector(), "f" * 24
    channel.publish_chunks(mid, 1, ["a", "b"])
    sub = Subscription(hub, out, mid, after_seq=0)
    sub.start()  # replays 1 and 2
    frames = [channel.chunk_frame(mid, seq, d) for seq, d in ((2, "b"), (3, "c"), (4, "d"))]
    sub.on_live("\n".join(frames))  # 2 arrives again with the next ones
    wait_for(lambda: len(out.frames) >= 4, 10, what="the live batch")
    assert [(f["seq"], f["delta"]) for f in out.frames] == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]
    sub.stop()


def test_the_outbox_sends_frames_queued_during_a_write_together_in_order():
    from web.streams import Outbox

    writes: list[list[str]] = []
    first_write_started, release = threading.Event(), threading.Event()

    def send(texts: list[str]) -> None:
        writes.append(list(texts))
        first_write_started.set()
        release.wait(5)  # a slow client: the first write blocks

    box = Outbox(send)
    box.put("1")
    assert first_write_started.wait(5)
    for text in ("2", "3", "4"):
        box.put(text)
    release.set()
    box.flush_and_close()
    assert writes == [["1"], ["2", "3", "4"]]


def test_a_hub_subscribes_only_to_the_channels_its_sockets_follow(settings, monkeypatch):
    from common.redis_client import get_redis

    hub, out, followed, other = Hub(), Collector(), "a1" * 12, "b2" * 12
    received: list[str] = []
    dispatch = hub._dispatch
    monkeypatch.setattr(hub, "_dispatch", lambda ch, raw: (received.append(ch), dispatch(ch, raw)))

    def subscribers(mid: str) -> int:
        return dict(get_redis().pubsub_numsub(channel.channel(mid)))[channel.channel(mid)]

    sub = Subscription(hub, out, followed, after_seq=0)
    sub.start()
    assert (subscribers(followed), subscribers(other)) == (1, 0)
    channel.publish_chunks(other, 1, ["not ours"])
    channel.publish_chunks(followed, 1, ["ours"])
    wait_for(lambda: out.frames, 10, what="the followed chunk")
    assert received == [channel.channel(followed)]  # the other answer's chunk never came
    sub.stop()
    wait_for(lambda: subscribers(followed) == 0, 10, what="the unsubscribe")
    channel.publish_chunks(followed, 2, ["after"])
    again = Subscription(hub, Collector(), followed, after_seq=2)
    again.start()  # subscribes afresh
    assert subscribers(followed) == 1 and hub.channels() == 1
    again.stop()


def test_a_hub_unsubscribes_the_channels_left_in_a_burst_with_one_command(settings, monkeypatch):
    """Answers that ended together are unsubscribed together; one followed again before the
    flush stays subscribed (it never left Redis)."""
    from common.redis_client import get_redis

    hub = Hub()
    mids = [f"{i:02d}" * 12 for i in range(5)]

    def subscribers(mid: str) -> int:
        return dict(get_redis().pubsub_numsub(channel.channel(mid)))[channel.channel(mid)]

    subs = [Subscription(hub, Collector(), mid, after_seq=0) for mid in mids]
    for sub in subs:
        sub.start()
    unsubscribes = []
    real = hub._pubsub.unsubscribe
    monkeypatch.setattr(
        hub._pubsub, "unsubscribe", lambda *names: (unsubscribes.append(names), real(*names))[1]
    )
    for sub in subs:
        sub.stop()
    again = Subscription(hub, Collector(), mids[0], after_seq=0)
    again.start()  # followed again before the flush: no new SUBSCRIBE needed
    hub.flush_unsubscribes()
    assert len(unsubscribes) == 1 and set(unsubscribes[0]) == {channel.channel(m) for m in mids[1:]}
    wait_for(lambda: all(subscribers(m) == 0 for m in mids[1:]), 10, what="the unsubscribes")
    assert subscribers(mids[0]) == 1
    channel.publish_chunks(mids[0], 1, ["still live"])
    wait_for(lambda: again.outbox.frames, 10, what="the chunk of the channel followed again")
    again.stop()


def test_the_final_frame_drops_its_runs_lease_in_the_same_round_trip(settings, monkeypatch):
    from common.redis_client import get_redis

    mid, other = "e1" * 12, "e2" * 12
    assert channel.take_lease(mid, "run-1", 30) and channel.take_lease(other, "run-x", 30)
    assert channel.publish_final(mid, {"type": "done", "seq": 0}, lease_token="run-1")
    assert not get_redis().exists(channel._lease_key(mid))
    # Someone else's lease stays: the token must match.
    assert channel.publish_final(other, {"type": "done", "seq": 0}, lease_token="run-1")
    assert get_redis().get(channel._lease_key(other)) == "run-x"
    calls = []
    monkeypatch.setattr(channel, "_script", lambda source: calls.append(source))
    channel.drop_lease(mid, "run-1")  # already gone with the frame: no round trip
    assert calls == []
