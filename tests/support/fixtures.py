"""pytest fixtures shared by several suites; a conftest imports the ones its tests use.

The process suites (integration chat and API, fleet, browser) share the fake provider, the
module's stack and the per-test `live` preparation: a module changes what its stack runs with
by overriding `stack_settings`. In-process tests point the providers at the session's fake with
`openrouter`. Registered for every test by `pytest_plugins` in tests/conftest.py.
"""

from __future__ import annotations

import pytest

from common.catalog.service import invalidate_cache, sync_provider
from config import Settings, get_settings, use_settings
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.smtp import SmtpServer
from tests.support.http import auth
from tests.support.stack import Stack


@pytest.fixture(scope="module")
def fake():
    """A fake OpenRouter for the module (its processes call it over HTTP)."""
    with FakeOpenRouter() as server:
        yield server


@pytest.fixture(scope="module")
def stack_settings(base_settings, fake) -> Settings:
    """What the module's stack runs with: the session's settings on the fake provider."""
    return base_settings.with_overrides(openrouter_base_url=fake.base_url)


@pytest.fixture(scope="module")
def stack(request, stack_settings):
    """gunicorn and a Celery worker for the module, their logs named after it."""
    use_settings(stack_settings)
    running = Stack(stack_settings, name=request.module.__name__.rsplit(".", 1)[-1]).start()
    yield running
    running.stop()


def ready(settings: Settings, fake: FakeOpenRouter) -> None:
    """Per test: `settings` in this process, the fake without scenarios, the catalog synced."""
    use_settings(settings)
    fake.reset()
    invalidate_cache()
    sync_provider("openrouter")


@pytest.fixture
def live(stack, fake):
    ready(stack.settings, fake)
    return stack


@pytest.fixture
def openrouter(fake_openrouter, settings_override):
    """In-process tests: providers read the session's fake, with timeouts short so that
    outages fail fast."""
    settings_override(
        openrouter_base_url=fake_openrouter.base_url,
        provider_connect_timeout=2.0,
        provider_read_timeout=5.0,
    )
    return fake_openrouter


@pytest.fixture
def admin(make_admin):
    """(user json, auth headers) of a logged-in admin."""
    user, token = make_admin(name="Ada Admin")
    return user, auth(token)


@pytest.fixture(scope="session")
def smtp_server():
    """A real SMTP server on loopback for the session (tests/fakes/smtp.py)."""
    with SmtpServer() as server:
        yield server


@pytest.fixture
def smtp(smtp_server, settings):
    """In-process tests: mail goes to the loopback SMTP server, emptied for each test. Laid over
    the settings active when it is set up (ask for it after fixtures such as `rzp` that set
    their own). A test that stops the server gets it back afterwards."""
    smtp_server.reset()
    use_settings(
        get_settings().with_overrides(
            smtp_host="127.0.0.1", smtp_port=smtp_server.port, smtp_starttls=False
        )
    )
    yield smtp_server
    use_settings(settings)
    if not smtp_server.running:
        smtp_server.start()
