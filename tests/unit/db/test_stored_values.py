"""`common.stored` on values alone: dates as MongoDB's codec gives them back (naive or
`tz_aware`), ids from text. What nx-27017 stores: tests/service/db/test_stored.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import bson
import pytest
from bson import ObjectId
from bson.codec_options import CodecOptions
from bson.errors import InvalidId

from common.stored import (
    as_utc,
    grouped_id,
    iso,
    iso_or_text,
    object_id,
    object_id_or_none,
    same_id,
    sort_key,
)

AT = datetime(2026, 11, 26, 3, 41, 50, 770000, tzinfo=UTC)  # whole milliseconds, as BSON keeps
API_TEXT = "2026-11-26T03:41:50.770000+00:00"


def _mongodb_round_trip(value: datetime, tz_aware: bool) -> datetime:
    raw = bson.encode({"at": value})
    return bson.decode(raw, codec_options=CodecOptions(tz_aware=tz_aware))["at"]


# -- MongoDB: dates come back naive UTC, or UTC-aware with `tz_aware` ------------------------------


def test_mongodb_naive_date_is_read_as_utc():
    stored = _mongodb_round_trip(AT, tz_aware=False)
    assert stored.tzinfo is None
    assert as_utc(stored) == AT and as_utc(stored).utcoffset() == timedelta(0)
    assert iso(stored) == API_TEXT


def test_mongodb_tz_aware_date_is_kept():
    stored = _mongodb_round_trip(AT.astimezone(timezone(timedelta(hours=5, minutes=30))), True)
    assert stored.utcoffset() == timedelta(0)
    assert as_utc(stored) == AT
    assert iso(stored) == iso_or_text(stored) == API_TEXT


# -- missing dates, ids as text and as nx-27017 groups them -------------------------------------


@pytest.mark.parametrize("value", [None, "", "not a date", 17])
def test_a_missing_or_unreadable_date_is_none(value):
    assert as_utc(value) is None and iso(value) is None
    assert sort_key(value) == 0.0


def test_iso_or_text_of_nothing_is_none():
    assert iso_or_text(None) is None and iso_or_text("") is None


def test_object_ids_from_text_and_ids():
    oid = ObjectId()
    assert object_id(oid) is oid and object_id(str(oid)) == oid
    assert object_id_or_none(str(oid)) == oid
    assert same_id(str(oid)) == {"$in": [oid]}
    for bad in ("nope", None, 12):
        assert object_id_or_none(bad) is None
        with pytest.raises(InvalidId):
            object_id(bad)


def test_grouped_id_reads_nx_27017_json_form():
    oid = ObjectId()
    assert grouped_id(oid) is oid and grouped_id(str(oid)) == oid
    assert grouped_id(json.dumps({"__neosqlite_objectid__": True, "id": str(oid)})) == oid
    assert grouped_id("{broken") is None and grouped_id(None) is None
