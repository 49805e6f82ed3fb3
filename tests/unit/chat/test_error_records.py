"""The error stored on a failed message, built in one place from the error classes: the three
shapes the stored documents (and clients reading them) already have."""

from __future__ import annotations

from common.engine.errors import MessageFailed, StreamInterrupted, error_record
from common.errors import ServiceUnavailable
from common.providers.base import ProviderStreamError


def test_a_failure_during_the_run_keeps_details_and_reason():
    exc = ProviderStreamError(details={"reason": "out_of_credits"})
    assert error_record(exc, details=dict(exc.details), reason="out_of_credits") == {
        "code": exc.code,
        "message": exc.message,
        "details": {"reason": "out_of_credits"},
        "reason": "out_of_credits",
        "status": exc.status,
    }


def test_an_interrupted_run_keeps_empty_details_and_no_reason():
    assert error_record(StreamInterrupted(), details={}) == {
        "code": "STREAM_INTERRUPTED",
        "message": StreamInterrupted.message,
        "details": {},
        "status": 503,
    }


def test_an_unstarted_answer_keeps_a_reason_and_no_details():
    record = error_record(ServiceUnavailable("We could not start this answer."), reason="expired")
    assert record == {
        "code": "SERVICE_UNAVAILABLE",
        "message": "We could not start this answer.",
        "reason": "expired",
        "status": 503,
    }


def test_a_stored_record_reads_back_as_the_same_error():
    replayed = MessageFailed(error_record(StreamInterrupted(), details={}))
    assert (replayed.code, replayed.status, replayed.message) == (
        "STREAM_INTERRUPTED",
        503,
        StreamInterrupted.message,
    )
