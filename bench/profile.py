"""Sampling profiles of running processes with py-spy (pinned in the dev extras), summarised as the
top frames: inclusive (the share of busy samples a function is on the stack) and self (on top).

`with Profiles({"web": pid, "worker": pid}, seconds=20) as p: <load>` then `p.report()`.
py-spy needs to read the target's memory: root, or `ptrace_scope` 0 for one's own children.
"""

from __future__ import annotations

import collections
import re
import subprocess
from pathlib import Path

from tests.support.services import LOG_DIR, VENV_BIN

# Leaves where a thread waits rather than works (gevent's hub in its event loop, a native thread
# of gevent's pool waiting for work): such samples are left out of the shares.
IDLE_LEAVES = ("gevent._threading.acquire_with_timeout", "gevent.hub.Hub.run")
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*)\)$")


def _short(frame: str) -> str:
    """`func (…/site-packages/pkg/mod.py)` → `pkg.mod.func`; project files the same way."""
    m = _FRAME.match(frame)
    if not m:
        return frame
    path = m["file"]
    for marker in ("site-packages/", "/python3.11/", "/perf/", "/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    module = path.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
    return f"{module}.{m['func']}"


def top_frames(raw: Path, count: int = 15) -> tuple[int, list, list]:
    """(samples, [(frame, inclusive share)], [(frame, self share)]) from py-spy's raw output."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        samples = int(n)
        frames = [_short(f) for f in stack.split(";")]
        if frames[-1] in IDLE_LEAVES:
            continue
        total += samples
        for frame in set(frames[1:]):  # the first is the thread's name
            inclusive[frame] += samples
        own[frames[-1]] += samples
    share = (lambda c: [(f, n / total) for f, n in c.most_common(count)]) if total else list
    return total, share(inclusive), share(own)


class Profiles:
    """py-spy `record` on each named process for `seconds` (200 samples a second)."""

    def __init__(self, pids: dict[str, int], seconds: float, tag: str = "bench"):
        self.pids, self.seconds, self.tag = pids, seconds, tag
        self.files = {name: LOG_DIR / f"pyspy-{tag}-{name}.txt" for name in pids}
        self._procs: list[subprocess.Popen] = []

    def __enter__(self) -> Profiles:
        for name, pid in self.pids.items():
            cmd = [str(VENV_BIN / "py-spy"), "record", "-p", str(pid), "-r", "200"]
            cmd += ["-d", str(int(self.seconds)), "--format", "raw", "--nolineno"]
            cmd += ["-o", str(self.files[name])]
            self._procs.append(
                subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
        return self

    def __exit__(self, *exc) -> None:
        for proc in self._procs:
            proc.wait(self.seconds + 60)

    def report(self, count: int = 15) -> str:
        lines = []
        for name, path in self.files.items():
            if not path.exists():
                lines.append(f"{name}: no profile (py-spy could not attach?)")
                continue
            total, inclusive, own = top_frames(path, count)
            lines.append(f"{name}: {total} busy samples ({path})")
            lines.append("  inclusive:")
            lines += [f"    {share * 100:5.1f}%  {frame}" for frame, share in inclusive]
            lines.append("  self:")
            lines += [f"    {share * 100:5.1f}%  {frame}" for frame, share in own]
        return "\n".join(lines)
