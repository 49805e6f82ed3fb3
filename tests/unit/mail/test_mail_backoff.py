"""How long a mail waits before its next try (the outbox itself, on SMTP and the stores:
tests/service/mail/test_outbox.py)."""

from __future__ import annotations

from common.mail import outbox


def test_backoff_doubles_up_to_the_cap():
    waits = [outbox.backoff_seconds(n, 30, 3600) for n in range(1, 10)]
    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
