"""`common.stored` against both servers' behaviour: MongoDB's (through pymongo's codec, naive or
`tz_aware`) and nx-27017's (a round trip through the session's server)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import bson
import pytest
from bson import ObjectId
from bson.codec_options import CodecOptions
from bson.errors import InvalidId

from common import db
from common.stored import (
    as_utc,
    grouped_id,
    in_range,
    iso,
    iso_or_text,
    object_id,
    object_id_or_none,
    same_id,
    sort_key,
    touch,
    utcnow,
)

AT = datetime(2026, 11, 26, 3, 41, 50, 770000, tzinfo=UTC)  # whole milliseconds, as BSON keeps
API_TEXT = "2026-11-26T03:41:50.770000+00:00"
NX_TEXT = "2026-11-26 03:41:50.770000"


def _mongodb_round_trip(value: datetime, tz_aware: bool) -> datetime:
    raw = bson.encode({"at": value})
    return bson.decode(raw, codec_options=CodecOptions(tz_aware=tz_aware))["at"]


@pytest.fixture
def probe(settings):
    return db.get_db()["stored_probe"]


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


# -- nx-27017: `$set` stores text, inserts and `$currentDate` store dates --------------------------


def test_nx_27017_round_trip_reads_every_stored_form(probe):
    probe.insert_one({"_id": 1, "inserted": AT, "whole": {"at": AT}})
    before = utcnow().replace(microsecond=0)
    probe.update_one({"_id": 1}, {"$set": {"set": AT, "dotted.at": AT}, **touch("current")})
    doc = probe.find_one({"_id": 1})

    assert doc["set"] == NX_TEXT and doc["dotted"]["at"] == NX_TEXT  # the deviation itself
    assert isinstance(doc["inserted"], datetime) and isinstance(doc["whole"]["at"], datetime)
    assert isinstance(doc["current"], datetime)
    for value in (doc["inserted"], doc["whole"]["at"], doc["set"], doc["dotted"]["at"]):
        assert as_utc(value) == AT
        assert iso(value) == API_TEXT
        assert sort_key(value) == AT.timestamp()
    assert as_utc(doc["current"]) >= before


def test_iso_or_text_passes_nx_text_through(probe):
    probe.insert_one({"_id": 1})
    probe.update_one({"_id": 1}, {"$set": {"at": AT}})
    stored = probe.find_one({"_id": 1})["at"]
    assert iso_or_text(stored) == NX_TEXT
    assert iso_or_text(AT.replace(tzinfo=None)) == API_TEXT


def test_owner_filter_and_grouped_ids_on_nx_27017(probe):
    owner, other = ObjectId(), ObjectId()
    probe.insert_many([{"userId": owner, "n": 1}, {"userId": owner, "n": 2}, {"userId": other}])
    assert sorted(d["n"] for d in probe.find({"userId": same_id(str(owner))})) == [1, 2]
    groups = probe.aggregate([{"$group": {"_id": "$userId", "count": {"$sum": 1}}}])
    counts = {grouped_id(g["_id"]): g["count"] for g in groups}
    assert counts == {owner: 2, other: 1}


def test_date_range_in_match_on_nx_27017(probe):
    probe.insert_many([{"at": AT + timedelta(days=d)} for d in range(-1, 3)])
    window = in_range("at", AT, AT + timedelta(days=2))
    assert len(list(probe.aggregate([{"$match": window}]))) == 2


# -- values that are not dates or ids ---------------------------------------------------------------


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
