"""Task modules and their beat entries. Add a module here to register its tasks."""

from __future__ import annotations

import importlib

TASK_MODULES = [
    "worker.tasks.system",
    "worker.tasks.wallet",
    "worker.tasks.chat",
    "worker.tasks.catalog",
    "worker.tasks.payments",
    "worker.tasks.analytics",
    "worker.tasks.mail",
    "worker.tasks.accounts",
]


def _collect_schedule() -> dict:
    schedule: dict = {}
    for name in TASK_MODULES:
        schedule.update(getattr(importlib.import_module(name), "BEAT_SCHEDULE", {}))
    return schedule


BEAT_SCHEDULE = _collect_schedule()
