"""A fresh clone on a fresh machine: `make test` sets up what the suite needs itself
(scripts/test_prereqs.sh), and the Procfile's processes find the directories they write to.

The install branches are tried with stand-ins for `apt-get` and `id` on PATH and a chromium
path in a temporary directory: the machine's own packages are never touched."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import redis

from tests.support.services import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "test_prereqs.sh"


def test_make_test_runs_the_prerequisites_before_the_suite():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, re.M).group(1).splitlines()
    steps = [line.strip() for line in recipe]
    assert steps[0] == "bash scripts/test_prereqs.sh", steps
    assert any("pytest -q" in step for step in steps[1:]), steps
    assert "make test" in (ROOT / ".ci" / "run").read_text()  # CI runs the same command


def test_the_procfile_writes_only_into_directories_a_clone_has():
    """`celery beat --schedule var/celerybeat-schedule` fails when var/ does not exist."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    tracked_dirs = {str(Path(path).parent) for path in tracked}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        args = shlex.split(command)
        for flag in ("--schedule", "--pidfile", "--logfile"):
            if flag in args:
                parent = str(Path(args[args.index(flag) + 1]).parent)
                assert parent in tracked_dirs, f"{name}: {parent}/ is not in the repository"


@pytest.fixture
def fake_bin(tmp_path):
    """A PATH directory whose `apt-get` records its calls and "installs" chromium."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    chromium = tmp_path / "usr-bin" / "chromium"
    calls = tmp_path / "apt-calls"
    (bin_dir / "apt-get").write_text(
        "#!/bin/bash\n"
        f'echo "$*" >> {calls}\n'
        'if [[ "$*" == *install*chromium* ]]; then\n'
        f"  mkdir -p {chromium.parent} && printf '#!/bin/sh\\n' > {chromium} && chmod +x {chromium}\n"
        "fi\n"
    )
    (bin_dir / "apt-get").chmod(0o755)
    return bin_dir, chromium, calls


def run_script(bin_dir: Path, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", **env}
    return subprocess.run(
        ["bash", str(SCRIPT)], env=full_env, capture_output=True, text=True, timeout=60
    )


def test_missing_chromium_is_installed_with_apt_get_as_root(fake_bin):
    bin_dir, chromium, calls = fake_bin
    (bin_dir / "id").write_text("#!/bin/sh\necho 0\n")
    (bin_dir / "id").chmod(0o755)
    res = run_script(bin_dir, PREREQS_CHROMIUM=str(chromium))
    assert res.returncode == 0, res.stdout + res.stderr
    assert calls.read_text().splitlines() == [
        "update -qq",
        "install -y -qq --no-install-recommends chromium",
    ]
    assert "installed chromium" in res.stdout
    # Present now: a second run installs nothing.
    calls.unlink()
    assert run_script(bin_dir, PREREQS_CHROMIUM=str(chromium)).returncode == 0
    assert not calls.exists()


def test_missing_chromium_without_root_says_what_to_install(fake_bin):
    bin_dir, chromium, calls = fake_bin
    (bin_dir / "id").write_text("#!/bin/sh\necho 1000\n")
    (bin_dir / "id").chmod(0o755)
    res = run_script(bin_dir, PREREQS_CHROMIUM=str(chromium))
    assert res.returncode == 1
    assert "missing: Debian's chromium" in res.stdout
    assert "sudo apt-get install chromium" in res.stdout
    assert not calls.exists()  # no install attempted


def test_redis_not_answering_is_started(fake_bin):
    """No Redis on the port: the script starts redis-server there (and this test stops it)."""
    bin_dir, _, calls = fake_bin
    port = free_port()
    res = run_script(bin_dir, PREREQS_REDIS_PORT=str(port))
    assert res.returncode == 0, res.stdout + res.stderr
    started = redis.Redis(host="127.0.0.1", port=port)
    try:
        assert started.ping()
        assert f"starting redis-server on 127.0.0.1:{port}" in res.stdout
        assert not calls.exists()  # redis-server is installed on this machine
    finally:
        pid = started.info("server")["process_id"]
        os.kill(pid, 15)
        wait_for(lambda: not _alive(pid), 10, 0.1, "the test's redis-server to stop")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
