"""`common.stored` against nx-27017's behaviour (a round trip through the session's server).
MongoDB's (through pymongo's codec, naive or `tz_aware`) and the values alone:
tests/unit/db/test_stored_values.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId

from common import db
from common.stored import (
    as_utc,
    grouped_id,
    in_range,
    iso,
    iso_or_text,
    same_id,
    sort_key,
    touch,
    utcnow,
)

AT = datetime(2026, 11, 26, 3, 41, 50, 770000, tzinfo=UTC)  # whole milliseconds, as BSON keeps
API_TEXT = "2026-11-26T03:41:50.770000+00:00"
NX_TEXT = "2026-11-26 03:41:50.770000"


@pytest.fixture
def probe(settings):
    return db.get_db()["stored_probe"]


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
