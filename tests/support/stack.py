"""The whole service as real processes, for integration tests and the benchmark.

`Stack(settings, provider_base_url)` runs gunicorn (gevent worker, `wsgi:app`) and one Celery
worker (threads pool, queues chat + default) with an environment built from `settings`, waits
until `/health` says every part is up, and offers what the tests need: the base and websocket
URLs, a Celery client on the same broker, `kill_worker()` (SIGKILL), `start_worker()` and
`reap()` (runs `chat.reap_stale` through the worker, standing in for beat).
"""

from __future__ import annotations

import dataclasses
import signal
import uuid

import requests
from celery import Celery

from config import Settings
from tests.support.services import VENV_BIN, Proc, free_port, wait_for

WEB_COMMAND = ["gunicorn", "-k", "gevent", "--worker-connections", "2000", "-w", "1"]
WORKER_COMMAND = ["celery", "-A", "worker.celery_app", "worker", "-Q", "chat,default"]
# As in the Procfile: a chat task waits on the network, so one process runs hundreds at once.
WORKER_POOL = ["--pool", "gevent", "--concurrency", "500"]


def settings_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Every setting as the environment variable `config.load_settings` reads back."""
    env = {}
    for f in dataclasses.fields(settings):
        if f.name == "extra":
            continue
        value = getattr(settings, f.name)
        if isinstance(value, tuple):
            value = ",".join(value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        env[f.name.upper()] = str(value)
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Stack:
    def __init__(self, settings: Settings, name: str = "stack", web_workers: int = 1):
        self.settings = settings
        self.name = name
        self.web_workers = web_workers
        self.port = free_port()
        self.env = settings_env(settings)
        self.web: Proc | None = None
        self.worker: Proc | None = None
        self.celery = Celery(
            "stack-client", broker=settings.broker_url, backend=settings.result_backend
        )
        self.celery.conf.update(
            task_routes={"chat.*": {"queue": "chat"}},
            task_default_queue="default",
            broker_connection_retry_on_startup=True,
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self) -> Stack:
        cmd = [str(VENV_BIN / WEB_COMMAND[0]), *WEB_COMMAND[1:]]
        cmd[cmd.index("-w") + 1] = str(self.web_workers)
        cmd += ["-b", f"127.0.0.1:{self.port}", "--graceful-timeout", "2", "wsgi:app"]
        self.web = Proc(f"{self.name}-web", cmd, self.env)
        self.start_worker()
        self.wait_healthy()
        return self

    def start_worker(self) -> None:
        cmd = [str(VENV_BIN / WORKER_COMMAND[0]), *WORKER_COMMAND[1:], *WORKER_POOL]
        cmd += [
            "-n",
            f"{self.name}-{uuid.uuid4().hex[:6]}@%h",
            "--without-gossip",
            "--without-mingle",
        ]
        cmd += ["-l", "WARNING"]
        self.worker = Proc(f"{self.name}-worker", cmd, self.env)

    def wait_healthy(self, timeout: float = 90.0) -> None:
        def healthy():
            for proc in (self.web, self.worker):
                if proc is not None and not proc.alive():
                    raise RuntimeError(f"{proc.name} exited:\n{proc.log_tail()}")
            res = requests.get(self.base_url + "/health", timeout=5)
            return res.status_code == 200

        try:
            wait_for(healthy, timeout, 0.3, "the stack's /health")
        except Exception:
            for proc in (self.web, self.worker):
                if proc is not None:
                    print(f"--- {proc.name} ---\n{proc.log_tail()}")
            raise

    def kill_worker(self) -> None:
        """SIGKILL the worker's whole process group, as a crashed host would."""
        assert self.worker is not None
        self.worker.kill(signal.SIGKILL)
        self.worker.popen.wait(10)

    def restart_worker(self) -> None:
        if self.worker is not None and self.worker.alive():
            self.kill_worker()
        self.start_worker()
        self.wait_healthy()

    def reap(self, timeout: float = 30.0) -> dict:
        """One reaper sweep through the worker (what beat runs every 10 s in production)."""
        return self.celery.send_task("chat.reap_stale").get(timeout=timeout)

    def stop(self) -> None:
        for proc in (self.worker, self.web):
            if proc is not None:
                proc.stop()
