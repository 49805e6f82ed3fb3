"""The whole service as real processes, for integration tests and the benchmark.

`Stack(settings)` runs gunicorn (gevent worker, `wsgi:app`) and one Celery worker (gevent pool,
queues chat + default) with an environment built from `settings` — or, with `webs=2, workers=2`,
several of each as separate processes (the scale-out tests) — waits until `/health` says every
part is up, and offers what the tests need: the base and websocket URLs (of the first web; each
`Web` in `webs` has its own), a Celery client on the same broker, `kill_worker()` (SIGKILL),
`start_worker()` and `reap()` (runs `chat.reap_stale` through the worker, standing in for beat);
with `beat=True` also Celery beat itself (the benchmarks: every process production runs).

`StackPool` hands one running stack from module to module while their settings are the same
(the `stack` fixture in tests/support/fixtures.py): starting and stopping a stack costs seconds.
"""

from __future__ import annotations

import dataclasses
import shutil
import signal
import uuid
from pathlib import Path

import requests
from celery import Celery

from config import Settings
from tests.support.services import LOG_DIR, VENV_BIN, Proc, free_port, wait_for

WEB_COMMAND = ["gunicorn", "-k", "gevent", "--worker-connections", "2000", "-w", "1"]
WORKER_COMMAND = ["celery", "-A", "worker.celery_app", "worker", "-Q", "chat,default"]
# As in the Procfile: a chat task waits on the network, so one process runs hundreds at once.
WORKER_POOL = ["--pool", "gevent", "--concurrency", "500"]
BEAT_COMMAND = ["celery", "-A", "worker.celery_app", "beat", "-l", "WARNING"]


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
        if value == "":  # unset (read back as the default); an empty variable may mean "on"
            continue
        env[f.name.upper()] = str(value)
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Web:
    """One gunicorn master (and its workers) on its own port."""

    def __init__(self, proc: Proc, port: int, metrics_dir: Path):
        self.proc, self.port, self.metrics_dir = proc, port, metrics_dir

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"


class Stack:
    """`webs` gunicorn masters (each `web_workers` processes) and `workers` Celery workers.

    `self.web` / `self.port` / `base_url` are the first web; `self.worker` is the worker started
    last. Each web gets its own PROMETHEUS_MULTIPROC_DIR; `env` is added to every process's.
    """

    def __init__(
        self,
        settings: Settings,
        name: str = "stack",
        web_workers: int = 1,
        webs: int = 1,
        workers: int = 1,
        env: dict[str, str] | None = None,
        beat: bool = False,
    ):
        self.settings = settings
        self.name = name
        self.web_workers = web_workers
        self.web_count, self.worker_count = webs, workers
        self.env = settings_env(settings, **(env or {}))
        self.webs: list[Web] = []
        self.retired: list[Web] = []  # terminated webs, still stopped (and logged) at the end
        self.workers: list[Proc] = []
        self.with_beat = beat
        self.beat: Proc | None = None
        self.web: Proc | None = None
        self.worker: Proc | None = None
        self.tailored = False  # a process was started with variables of its own
        self.port = free_port()
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
        for _ in range(self.web_count):
            self.start_web()
        for _ in range(self.worker_count):
            self.start_worker()
        if self.with_beat:
            self.start_beat()
        try:
            self.wait_healthy()
        except Exception:
            self.stop()  # no process outlives a stack that did not come up
            raise
        return self

    def start_beat(self) -> Proc:
        """Celery beat with the production schedule (the reaper, catalog refresh, ...)."""
        schedule = LOG_DIR / f"beat-{self.name}-{self.port}.schedule"
        cmd = [str(VENV_BIN / BEAT_COMMAND[0]), *BEAT_COMMAND[1:], "--schedule", str(schedule)]
        self.beat = Proc(f"{self.name}-beat", cmd, self.env)
        return self.beat

    def start_web(self, env: dict[str, str] | None = None) -> Web:
        port = self.port if not self.webs else free_port()
        metrics_dir = LOG_DIR / f"prom-{self.name}-{port}"
        if metrics_dir.exists():
            shutil.rmtree(metrics_dir)
        metrics_dir.mkdir(parents=True)
        cmd = [str(VENV_BIN / WEB_COMMAND[0]), *WEB_COMMAND[1:]]
        cmd[cmd.index("-w") + 1] = str(self.web_workers)
        cmd += ["-b", f"127.0.0.1:{port}", "--graceful-timeout", "2", "wsgi:app"]
        proc_env = {**self.env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), **(env or {})}
        self.tailored = self.tailored or bool(env)
        suffix = f"-{len(self.webs)}" if self.webs else ""
        web = Web(Proc(f"{self.name}-web{suffix}", cmd, proc_env), port, metrics_dir)
        self.webs.append(web)
        self.web = self.web or web.proc
        return web

    def start_worker(self, env: dict[str, str] | None = None) -> Proc:
        cmd = [str(VENV_BIN / WORKER_COMMAND[0]), *WORKER_COMMAND[1:], *WORKER_POOL]
        cmd += [
            "-n",
            f"{self.name}-{uuid.uuid4().hex[:6]}@%h",
            "--without-gossip",
            "--without-mingle",
        ]
        cmd += ["-l", "WARNING"]
        suffix = f"-{len(self.workers)}" if self.workers else ""
        self.worker = Proc(f"{self.name}-worker{suffix}", cmd, {**self.env, **(env or {})})
        self.tailored = self.tailored or bool(env)
        self.workers.append(self.worker)
        return self.worker

    def _procs(self) -> list[Proc]:
        return [w.proc for w in self.webs] + self.workers + ([self.beat] if self.beat else [])

    def wait_healthy(self, timeout: float = 90.0) -> None:
        def healthy():
            for web in self.webs:
                if web.proc.alive():
                    res = requests.get(web.base_url + "/health", timeout=5)
                    if res.status_code != 200:
                        return False
            for proc in (self.web, self.worker):
                if proc is not None and not proc.alive():
                    raise RuntimeError(f"{proc.name} exited:\n{proc.log_tail()}")
            return True

        try:
            wait_for(healthy, timeout, 0.3, "the stack's /health")
        except Exception:
            for proc in self._procs():
                print(f"--- {proc.name} ---\n{proc.log_tail()}")
            raise

    def terminate_web(self, web: Web) -> None:
        """SIGTERM one gunicorn master (a deploy); it drains and exits. The stack forgets it."""
        web.proc.popen.send_signal(signal.SIGTERM)
        self.webs.remove(web)
        self.retired.append(web)
        if self.webs and self.web is web.proc:
            self.web, self.port = self.webs[0].proc, self.webs[0].port

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
        """Every process group killed at once (SIGKILL), then reaped: a stack's stop is a
        module's teardown, where nothing a process still does is looked at. A graceful stop
        would cost 2-5 s (a Celery worker notices SIGTERM at its next 2 s poll of the broker,
        gunicorn at its next 1 s tick) and could let an answer left in flight settle after the
        next test emptied the database. Graceful stops have tests of their own
        (tests/integration/fleet/test_drain.py)."""
        webs = [*self.webs, *self.retired]
        procs = [*self.workers, *(w.proc for w in webs), *([self.beat] if self.beat else [])]
        for proc in procs:
            proc.kill(signal.SIGKILL)
        for proc in procs:
            proc.popen.wait(10)
            proc.stop()


class StackPool:
    """At most one shared stack, running while consecutive modules ask for the same settings.

    A module gets the running stack when its settings (every variable the processes read) are
    the stack's and the stack is as it was started or as a test restored it: one live web per
    web and one live worker per worker, none started with other variables, `/health` 200. A
    test that kills a worker and starts another (as the worker tests do) leaves it restored; one
    that leaves a process dead, or runs one with other variables, leaves the next module a fresh
    stack.
    """

    def __init__(self):
        self.current: Stack | None = None
        self._key: tuple | None = None

    def get(self, settings: Settings, name: str) -> Stack:
        key = tuple(sorted(settings_env(settings).items()))
        if self.current is not None and (key != self._key or not self._restored()):
            self.close()
        if self.current is None:
            self.current = Stack(settings, name=name).start()
            self._key = key
        return self.current

    def release(self, keep: bool) -> None:
        """A module is done with the stack: stop it unless `keep` and it is fit to hand on."""
        if self.current is not None and not (keep and self._restored()):
            self.close()

    def close(self) -> None:
        if self.current is not None:
            self.current.stop()
        self.current, self._key = None, None

    def _restored(self) -> bool:
        stack = self.current
        webs = [w for w in stack.webs if w.proc.alive()]
        workers = [p for p in stack.workers if p.alive()]
        if stack.retired or stack.tailored:
            return False
        if len(webs) != stack.web_count or len(workers) != stack.worker_count:
            return False
        try:
            stack.wait_healthy(timeout=15)
        except Exception:
            return False
        return True
