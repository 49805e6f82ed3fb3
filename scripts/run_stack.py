"""`make run`: start what the stack needs, then every Procfile process together (honcho).

- MONGODB_URI unset → an embedded nx-27017 server (data in var/aipasta.db) on 127.0.0.1:27017.
- Redis not answering at REDIS_URL → a local `redis-server` if one is installed.
- Seeds the model catalog (fallback list when providers are unreachable) and the plans.
Ctrl-C stops everything this started.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
VAR = ROOT / "var"


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def _wait_port(host: str, port: int, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _port_open(host, port):
            return
        time.sleep(0.2)
    sys.exit(f"{what} did not come up on {host}:{port} within {timeout:.0f} s")


def start_mongo(env: dict, children: list) -> None:
    if env.get("MONGODB_URI"):
        print(f"[run] using MONGODB_URI={env['MONGODB_URI']}")
        return
    env["MONGODB_URI"] = "mongodb://127.0.0.1:27017/aipasta?directConnection=true"
    if _port_open("127.0.0.1", 27017):
        print("[run] a MongoDB-wire server already answers on 127.0.0.1:27017; using it")
        return
    VAR.mkdir(exist_ok=True)
    cmd = [str(BIN / "nx-27017"), "--db", str(VAR / "aipasta.db"), "-p", "27017"]
    cmd += ["--pid-file", str(VAR / "nx-27017.pid"), "--log-file", str(VAR / "nx-27017.log")]
    print("[run] starting embedded nx-27017 (data in var/aipasta.db)")
    children.append(
        subprocess.Popen(
            cmd,
            cwd=ROOT,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    _wait_port("127.0.0.1", 27017, "nx-27017")


def start_redis(env: dict, children: list) -> None:
    url = urlparse(env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0"))
    host, port = url.hostname or "127.0.0.1", url.port or 6379
    if _port_open(host, port):
        return
    server = shutil.which("redis-server")
    if not server or host not in ("127.0.0.1", "localhost"):
        sys.exit(f"Redis does not answer at {host}:{port}; start it or set REDIS_URL")
    print(f"[run] starting redis-server on {port}")
    cmd = [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    children.append(subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL))
    _wait_port(host, port, "redis-server")


def seed(env: dict) -> None:
    flask = str(BIN / "flask")
    commands = subprocess.run([flask, "--help"], cwd=ROOT, env=env, capture_output=True, text=True)
    for name in ("seed-models", "seed-plans"):
        if name in commands.stdout:
            print(f"[run] flask {name}")
            subprocess.run([flask, name], cwd=ROOT, env=env, check=False)


def _stop_on_signals() -> None:
    """SIGTERM/SIGHUP, or our parent (make) going away, stop the stack like Ctrl-C does."""

    def interrupt(*_args):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)
    parent = os.getppid()

    def watch_parent():
        while os.getppid() == parent:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch_parent, daemon=True).start()


def main() -> int:
    _stop_on_signals()
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    VAR.mkdir(exist_ok=True)
    children: list[subprocess.Popen] = []
    try:
        start_mongo(env, children)
        start_redis(env, children)
        seed(env)
        port = env.get("PORT", "5000")
        print(f"[run] web on http://127.0.0.1:{port}  flower on http://127.0.0.1:5555")
        honcho = subprocess.Popen(
            [str(BIN / "honcho"), "start", "-f", "Procfile", "-p", port], cwd=ROOT, env=env
        )
        children.append(honcho)
        return honcho.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    sys.exit(main())
