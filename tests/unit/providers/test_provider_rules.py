"""Provider client rules that need no server: a client without a base URL is off, and
`Retry-After` in both its forms (the clients over HTTP: tests/service/providers/)."""

from __future__ import annotations

import pytest

from common.providers.base import ChatRequest, ModelUnavailable
from common.providers.openai_compat import OpenAICompatProvider


def _events(client) -> list:
    request = ChatRequest(model="fake/echo", messages=[{"role": "user", "content": "hi"}])
    return list(client.stream_chat(request))


def test_openai_compat_without_base_url_is_disabled():
    client = OpenAICompatProvider("")
    assert not client.enabled and client.list_models() == []
    with pytest.raises(ModelUnavailable):
        _events(client)


def test_retry_after_accepts_seconds_and_http_dates():
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    from common.providers.openai_format import retry_after_seconds

    assert retry_after_seconds("12") == 12.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    assert 100 < retry_after_seconds(later) <= 120
