"""pytest fixtures shared by several suites; a conftest imports the ones its tests use.

The process suites (integration chat and API, fleet, browser) share the fake provider, the
module's stack and the per-test `live` preparation: a module changes what its stack runs with
by overriding `stack_settings`, and modules on the same settings share one stack
(`StackPool`, tests/README.md). In-process tests point the providers at the session's fake with
`openrouter`. Registered for every test by `pytest_plugins` in tests/conftest.py.
"""

from __future__ import annotations

import pytest

from common.catalog.service import invalidate_cache, sync_provider
from config import Settings, get_settings, use_settings
from tests.fakes.checkout import FakeCheckout
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.razorpay import FakeRazorpay
from tests.fakes.smtp import SmtpServer
from tests.support.http import auth
from tests.support.stack import StackPool


@pytest.fixture(scope="session")
def fake():
    """The fake OpenRouter the process stacks call over HTTP (one for the session, so that
    modules on the same settings can share a stack; `live` resets it before each test)."""
    with FakeOpenRouter() as server:
        yield server


@pytest.fixture(scope="module")
def stack_settings(base_settings, fake) -> Settings:
    """What the module's stack runs with: the session's settings on the fake provider."""
    return base_settings.with_overrides(openrouter_base_url=fake.base_url)


@pytest.fixture(scope="session")
def stack_pool():
    pool = StackPool()
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def stack(request, stack_settings, stack_pool):
    """gunicorn and a Celery worker for the module, their logs named after the module that
    started them. Consecutive modules on the same settings share one (`StackPool`): it is kept
    running only while the next test to run, the next module's first, asks for a stack too, so
    a test that runs its own processes on the same Redis never finds a stray worker taking its
    tasks."""
    use_settings(stack_settings)
    running = stack_pool.get(stack_settings, name=request.module.__name__.rsplit(".", 1)[-1])
    yield running
    stack_pool.release(keep=_takes_the_pooled_stack(_up_next["item"]))


_up_next: dict[str, pytest.Item | None] = {"item": None}


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`make test` runs `-n 2 --dist loadgroup`) each folder runs on one
    worker, its modules in order: consecutive modules keep sharing a stack, and a folder's
    tests never run beside each other."""
    if config.pluginmanager.hasplugin("xdist"):
        for item in items:
            item.add_marker(pytest.mark.xdist_group(str(item.path.parent)))


def _takes_the_pooled_stack(item: pytest.Item | None) -> bool:
    """Whether `item` uses this `stack` (a module may define a `stack` of its own)."""
    if item is None or "stack" not in item.fixturenames:
        return False
    definitions = item._fixtureinfo.name2fixturedefs.get("stack", ())
    return bool(definitions) and definitions[-1].func.__module__ == __name__


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    """Note the test that runs next (None after the last) for the fixtures torn down now."""
    _up_next["item"] = nextitem


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


@pytest.fixture(scope="module")
def razorpay():
    """A module's local Razorpay (tests/fakes/razorpay.py), for the stack it configures."""
    with FakeRazorpay() as server:
        yield server


@pytest.fixture(scope="module")
def checkout(razorpay):
    """Razorpay's Checkout page for the browser, driving that module's local Razorpay."""
    with FakeCheckout(razorpay) as server:
        yield server


@pytest.fixture(scope="module")
def mailserver():
    """A module's own loopback SMTP server, for the stack it configures (it may stop it)."""
    with SmtpServer() as server:
        yield server


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
