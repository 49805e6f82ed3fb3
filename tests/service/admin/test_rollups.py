"""Final days are computed once and stored; the last two days are computed on every report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bson import ObjectId

from common.admin.models import AnalyticsDay
from common.conversations.models import ChatMessage
from tests.support.seed import assistant_doc, at


def _requests(client, headers, query: str) -> int:
    res = client.get(f"/api/admin/analytics?{query}", headers=headers)
    assert res.status_code == 200, res.get_json()
    return res.get_json()["data"]["totals"]["requests"]


def test_final_days_are_stored_and_reused_until_rebuilt(app, client, admin):
    headers, user = admin[1], ObjectId(admin[0]["id"])
    messages = ChatMessage._get_collection()
    messages.insert_one(assistant_doc(user, at("2025-03-03"), "m/a", 10))
    assert _requests(client, headers, "from=2025-03-01&to=2025-03-14") == 1
    assert AnalyticsDay.objects.count() == 14

    # A late write to a final day (which the product never does) is not seen...
    messages.insert_one(assistant_doc(user, at("2025-03-04"), "m/a", 10))
    assert _requests(client, headers, "from=2025-03-01&to=2025-03-14") == 1
    # ...until the stored days are dropped.
    result = app.test_cli_runner().invoke(args=["analytics-rebuild"])
    assert result.exit_code == 0 and "Dropped 14 stored days" in result.output
    assert _requests(client, headers, "from=2025-03-01&to=2025-03-14") == 2


def test_the_last_two_days_are_live(client, admin):
    headers, user = admin[1], ObjectId(admin[0]["id"])
    today = datetime.now(UTC)
    query = f"from={(today - timedelta(days=6)).date()}&to={today.date()}"
    messages = ChatMessage._get_collection()
    messages.insert_one(assistant_doc(user, today, "m/a", 10))
    assert _requests(client, headers, query) == 1
    messages.insert_one(assistant_doc(user, today - timedelta(days=1), "m/a", 10))
    messages.insert_one(assistant_doc(user, today, "m/b", 10))
    assert _requests(client, headers, query) == 3
    stored = sorted(AnalyticsDay.objects.scalar("day"))
    assert stored == [str((today - timedelta(days=n)).date()) for n in range(6, 1, -1)]


def test_the_beat_job_stores_final_days_so_reports_start_warm(client, admin):
    from common.admin import rollups
    from worker.tasks.analytics import store_final_days

    headers, user = admin[1], ObjectId(admin[0]["id"])
    today = datetime.now(UTC)
    messages = ChatMessage._get_collection()
    messages.insert_one(assistant_doc(user, today - timedelta(days=5), "m/a", 10))
    messages.insert_one(assistant_doc(user, today, "m/a", 10))

    assert store_final_days.run() == 365  # every final day of the last 366, today-366..today-2
    days = sorted(AnalyticsDay.objects.scalar("day"))
    assert days[0] == str((today - timedelta(days=366)).date())
    assert days[-1] == str((today - timedelta(days=2)).date())
    five_ago = AnalyticsDay.objects(day=str((today - timedelta(days=5)).date())).first()
    assert [m["requests"] for m in five_ago.figures["models"]] == [1]
    assert rollups.store_final_days() == 0  # nothing left to do: it is idempotent

    query = f"from={(today - timedelta(days=10)).date()}&to={today.date()}"
    assert _requests(client, headers, query) == 2  # stored days plus the live ones
