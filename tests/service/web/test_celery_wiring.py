"""The web tier sends tasks through its own app's Celery object and never imports `worker/`
(`web → common ← worker`); an app keeps the settings it was built with."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.apps import fresh_app
from tests.support.http import auth
from tests.support.services import ROOT
from tests.support.stack import settings_env

LIST_WORKER_MODULES = """
import sys
from web import create_app
create_app().test_client().get("/health")
print(sorted(name for name in sys.modules if name.split(".")[0] == "worker"))
"""


def test_building_the_web_app_imports_nothing_from_worker(base_settings):
    env = {**os.environ, **settings_env(base_settings), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", LIST_WORKER_MODULES],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_two_apps_keep_their_own_broker_and_settings(app, client, base_settings, make_user):
    _, token = make_user()
    other_broker = f"{base_settings.redis_url.rsplit('/', 1)[0]}/15"
    with fresh_app(
        base_settings, celery_broker_url=other_broker, jwt_secret_key="other-" + "x" * 40
    ) as other:
        assert other.extensions["celery"].conf.broker_url == other_broker
        assert app.extensions["celery"].conf.broker_url == base_settings.broker_url
        assert app.config["SETTINGS"] is base_settings
        # Each app checks tokens with its own secret.
        assert other.test_client().get("/api/auth/me", headers=auth(token)).status_code == 401
        assert client.get("/api/auth/me", headers=auth(token)).status_code == 200
