"""In-process chat fixtures: the real nx-27017 and Redis of the session, the fake OpenRouter
over real HTTP, and `send` / `complete` called directly — no gunicorn, no Celery worker."""

from __future__ import annotations

import pytest

from common.catalog.service import invalidate_cache, sync_provider
from common.sending.command import SendCommand
from common.sending.send import send
from common.users.models import User

FREE = "fake/echo"
PAID = "openai/gpt-4o"
OTHER_PAID = "mistralai/mistral-large"


@pytest.fixture
def provider(openrouter):
    """The session's fake OpenRouter, with the catalog synced from it."""
    invalidate_cache()
    sync_provider("openrouter")
    return openrouter


@pytest.fixture
def member(provider, make_user):
    """`member(plan="free")`: a registered user (the sign-up grant in the wallet), as a User."""

    def make(plan: str = "free") -> User:
        info, _ = make_user()
        if plan != "free":
            User.objects(id=info["id"]).update_one(set__subscription__plan=plan)
        return User.objects(id=info["id"]).first()

    return make


@pytest.fixture
def enqueued() -> list[str]:
    """The message ids a send handed to its `enqueue`, in order."""
    return []


@pytest.fixture
def send_as(enqueued):
    """`send_as(user, text, *models, **command)`: `common.sending.send.send` with a recording
    enqueue (the fresh user document each time, as a web request would load it)."""

    def run(user: User, text: str, *models: str, **command):
        fresh = User.objects(id=user.id).first()

        def enqueue(message_id: str, hold: dict | None = None) -> None:
            enqueued.append(message_id)

        return send(SendCommand(fresh, text, list(models), **command), enqueue)

    return run
