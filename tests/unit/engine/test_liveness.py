"""The liveness decision (`common.engine.liveness.judge`): pure, fed ages as Redis measured them."""

from __future__ import annotations

import pytest

from common.engine.liveness import Decision, Policy, Signals, Verdict, Worker, judge, worker_of

POLICY = Policy(lease_seconds=6, stall_seconds=60)


def signals(**kw) -> Signals:
    base = {"lease_held": False, "leases_trustworthy": True, "publish_age": None, "worker": None}
    return Signals(**{**base, **kw})


def verdict(**kw) -> Verdict:
    return judge(signals(**kw), POLICY).verdict


def test_a_held_lease_is_alive_whatever_else_was_seen():
    gone = Worker(beat_age=None, connected=False)
    assert verdict(lease_held=True, worker=gone, leases_trustworthy=False) is Verdict.ALIVE


def test_nothing_is_ended_while_redis_has_been_up_for_less_than_a_lease():
    assert verdict(leases_trustworthy=False) is Verdict.WAIT
    assert verdict(leases_trustworthy=False, worker=Worker(None, False)) is Verdict.WAIT


def test_a_worker_whose_connection_closed_is_dead_even_if_it_just_published():
    decision = judge(signals(publish_age=0.5, worker=Worker(1.0, False)), POLICY)
    assert decision == Decision(Verdict.DEAD, "its worker process is gone (connection closed)")


@pytest.mark.parametrize("age", [0.0, 3.0, 5.99])
def test_a_run_that_published_within_a_lease_is_alive(age):
    assert verdict(publish_age=age) is Verdict.ALIVE


def test_a_starved_worker_is_waited_for_until_the_stall_limit():
    """Lease lapsed, nothing published for a while, but the process is there: alive."""
    assert verdict(publish_age=30, worker=Worker(beat_age=12, connected=True)) is Verdict.ALIVE
    assert verdict(publish_age=30, worker=Worker(beat_age=60, connected=True)) is Verdict.ALIVE
    assert verdict(publish_age=90, worker=Worker(beat_age=60.5, connected=True)) is Verdict.DEAD


def test_a_process_beating_steadily_while_the_lease_stays_missing_no_longer_runs_it():
    """Its run would have taken its lease again within a third of a lease: it ended without
    settling (its outcome kept for the reaper) or its heartbeat died."""
    steady = Worker(beat_age=0.5, connected=True, steady=6)
    decision = judge(signals(publish_age=8, worker=steady), POLICY)
    assert decision == Decision(Verdict.DEAD, "its worker process runs, but not this answer")


def test_a_process_that_just_resumed_gets_a_lease_to_take_its_lease_again():
    resumed = Worker(beat_age=0.1, connected=True, steady=1.5)
    assert verdict(publish_age=20, worker=resumed) is Verdict.ALIVE
    # Steady once, but silent since (stopped again): waited for.
    assert verdict(publish_age=20, worker=Worker(beat_age=5, connected=True, steady=30)) is (
        Verdict.ALIVE
    )


def test_a_worker_whose_connection_is_unknown_counts_on_its_beats():
    assert verdict(worker=Worker(beat_age=10, connected=None)) is Verdict.ALIVE
    assert verdict(worker=Worker(beat_age=61, connected=None)) is Verdict.DEAD


def test_a_worker_with_no_beacon_left_is_dead():
    assert verdict(publish_age=7, worker=Worker(beat_age=None, connected=None)) is Verdict.DEAD


def test_a_lapsed_lease_with_no_process_named_is_dead_once_publishing_stopped():
    assert verdict(publish_age=2) is Verdict.ALIVE
    assert verdict(publish_age=6) is Verdict.DEAD
    assert verdict(publish_age=None) is Verdict.DEAD


def test_a_clock_walking_past_the_lease_then_the_stall_limit():
    """One run stopped at t=0 (last publish and last beat), its process alive but frozen."""
    frozen = [(t, signals(publish_age=t, worker=Worker(t, True))) for t in (1, 5, 7, 30, 59, 61)]
    seen = [(t, judge(s, POLICY).verdict) for t, s in frozen]
    alive, dead = Verdict.ALIVE, Verdict.DEAD
    assert seen == [(1, alive), (5, alive), (7, alive), (30, alive), (59, alive), (61, dead)]


def test_claim_tokens_name_their_worker_process():
    assert worker_of("host:12:abcd1234/5f00") == "host:12:abcd1234"
    assert worker_of("5f00aa") is None  # a token of before the beacons
    assert worker_of(None) is None
