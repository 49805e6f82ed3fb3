"""The payment repair jobs are on beat's schedule (what they do: tests/service/payments/
test_payments_repair.py)."""

from __future__ import annotations

from worker.tasks import BEAT_SCHEDULE, TASK_MODULES


def test_tasks_are_registered_with_beat():
    assert "worker.tasks.payments" in TASK_MODULES
    tasks = {entry["task"] for entry in BEAT_SCHEDULE.values()}
    assert {"payments.expire_subscriptions", "payments.finish_stuck_orders"} <= tasks
