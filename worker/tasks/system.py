"""Wiring checks."""

from __future__ import annotations

import os

from celery import shared_task

from common import db


@shared_task(name="system.ping")
def ping() -> dict:
    """Proves the worker runs, reaches MongoDB, and answers through the result backend."""
    db.ping()
    return {"pong": True, "pid": os.getpid()}
