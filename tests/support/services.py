"""Real local services for tests: nx-27017 on a free port, a private Redis database, processes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pymongo
import redis
import requests

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
LOG_DIR = ROOT / "var" / "test-logs"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, timeout: float = 20.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # the service is still coming up
            last = exc
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}: {last!r}")


class Proc:
    """A child process with its output in var/test-logs/<name>.log."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str] | None = None):
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.name, self.cmd = name, cmd
        self._terminated = False
        self.log_path = LOG_DIR / f"{name}-{os.getpid()}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (kept open for the child's life)
        self.popen = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)

    def terminate(self) -> None:
        """Ask it to stop (SIGTERM, once); `stop` waits for it."""
        if self.alive() and not self._terminated:
            self.kill(signal.SIGTERM)
            self._terminated = True

    def stop(self, timeout: float = 10.0) -> None:
        if self.alive():
            self.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
                self.popen.wait(5)
        self._log.close()


@contextlib.contextmanager
def mongo_server(counting: bool = False) -> Iterator[str]:
    """An nx-27017 server on a free port, in memory; yields its address. `counting`: the
    server counts the commands it is sent (`tests.support.counting_nx`, read by `command_counts`)."""
    port = free_port()
    run_dir = LOG_DIR / f"nx-{port}"
    run_dir.mkdir(parents=True, exist_ok=True)
    launcher = [str(VENV_BIN / "python"), "-m", "tests.support.counting_nx"]
    cmd = [*(launcher if counting else [str(VENV_BIN / "nx-27017")]), "--db", "memory"]
    cmd += ["-p", str(port)]
    cmd += ["--pid-file", str(run_dir / "nx.pid"), "--log-file", str(run_dir / "nx.log")]
    proc = Proc("nx-27017", cmd)
    uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=500)
    try:
        wait_for(lambda: client.admin.command("ping"), 30, 0.1, "nx-27017 to answer")
        yield f"127.0.0.1:{port}"
    finally:
        client.close()
        proc.stop()


@contextlib.contextmanager
def private_redis_db() -> Iterator[int]:
    """Claim a Redis database (1-15) no other test session is using, and empty it."""
    admin = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=0)
    admin.ping()
    for n in range(1, 16):
        lock = f"aipasta:test-db-lock:{n}"
        if admin.set(lock, os.getpid(), nx=True, ex=3600):
            break
    else:
        raise RuntimeError("no free Redis database for this test session (1-15 all claimed)")
    redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=n).flushdb()
    try:
        yield n
    finally:
        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=n).flushdb()
        admin.delete(lock)


def wait_http(url: str, timeout: float = 30.0, proc: Proc | None = None) -> None:
    def up():
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.log_tail()}")
        return requests.get(url, timeout=1).status_code < 500

    wait_for(up, timeout, 0.1, url)


class RedisServer:
    """A private `redis-server` on a free port (no persistence), for tests that stop Redis.

    Never the shared 127.0.0.1:6379: `stop()` kills only this process, `start()` brings it back
    on the same port, empty (what a restart without persistence does).
    """

    BINARY = "/usr/bin/redis-server"

    def __init__(self):
        self.port = free_port()
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        cmd = [self.BINARY, "--port", str(self.port), "--bind", "127.0.0.1"]
        cmd += ["--save", "", "--appendonly", "no"]
        self.proc = Proc(f"redis-{self.port}", cmd)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        wait_for(lambda: client.ping(), 10, 0.05, "the private redis-server")
        return self

    def stop(self) -> None:
        """SIGKILL it: whatever it held is gone."""
        if self.proc is not None:
            self.proc.kill(signal.SIGKILL)
            self.proc.popen.wait(10)
            self.proc.stop()
            self.proc = None


class MongoServer:
    """A private nx-27017 on a free port with its data in a file, so it can be killed and
    started again on the same port with its data (a database blink)."""

    def __init__(self, data_dir: Path):
        self.port = free_port()
        self.data_dir = data_dir
        self.proc: Proc | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> MongoServer:
        run = self.data_dir
        run.mkdir(parents=True, exist_ok=True)
        cmd = [str(VENV_BIN / "nx-27017"), "--db", str(run / "data.db"), "-p", str(self.port)]
        cmd += ["--pid-file", str(run / "nx.pid"), "--log-file", str(run / "nx.log")]
        self.proc = Proc(f"nx-{self.port}", cmd)
        client = pymongo.MongoClient(
            f"mongodb://{self.address}/?directConnection=true", serverSelectionTimeoutMS=500
        )
        try:
            wait_for(lambda: client.admin.command("ping"), 30, 0.1, "the private nx-27017")
        finally:
            client.close()
        return self

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill(signal.SIGKILL)
            self.proc.popen.wait(10)
            self.proc.stop()
            self.proc = None
