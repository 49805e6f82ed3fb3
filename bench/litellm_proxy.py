"""The reference the benchmarks measure AI Pasta against: a LiteLLM proxy in front of the same
stand-in provider, as a user would run it instead of AI Pasta.

LiteLLM is never a dependency of the product: `ensure_installed()` puts `litellm[proxy]`
(pinned, `VERSION`) into its own virtualenv under `var/` the first time a benchmark needs it
(from PyPI, through pip as configured on the machine), and reuses it after. The proxy runs with
`WORKERS` uvicorn workers and no database (no virtual keys, no spend logs: the least work a proxy
can do per request) but a master key that every request carries (`HEADERS`; it refuses to start
without one), one model routed to the stand-in's OpenAI-compatible API.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import requests

from tests.support.services import ROOT, Proc, free_port, wait_for

VERSION = "1.108.7"
WORKERS = 2
MASTER_KEY = "sk-bench-0123456789abcdef0123456789abcdef"
HEADERS = {"Authorization": f"Bearer {MASTER_KEY}"}
VENV = ROOT / "var" / f"bench-litellm-{VERSION}"


def ensure_installed() -> Path:
    """LiteLLM's `litellm` command, installing it first into `VENV` if it is not there yet."""
    command = VENV / "bin" / "litellm"
    if command.exists():
        return command
    print(f"installing litellm[proxy]=={VERSION} into {VENV} (once) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
    done = subprocess.run([*pip, f"litellm[proxy]=={VERSION}"], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(
            f"could not install litellm[proxy]=={VERSION} from PyPI (is it reachable?):\n"
            + done.stderr[-2000:]
        )
    return command


class LiteLLM:
    """The proxy as a child process on a free port; `url` is its `/chat/completions`."""

    def __init__(self, provider_base_url: str, model: str, workers: int = WORKERS):
        self.port = free_port()
        self.workers = workers
        run_dir = ROOT / "var" / "bench-litellm-run"
        run_dir.mkdir(parents=True, exist_ok=True)
        # YAML is a superset of JSON: the config needs no YAML writer.
        config = {
            "model_list": [
                {
                    "model_name": model,
                    "litellm_params": {
                        "model": f"openai/{model}",
                        "api_base": provider_base_url,
                        "api_key": "bench",
                    },
                }
            ],
            "litellm_settings": {"telemetry": False, "drop_params": True},
        }
        self.config = run_dir / f"config-{self.port}.yaml"
        self.config.write_text(json.dumps(config, indent=2))
        self.proc: Proc | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.base_url + "/chat/completions"

    def start(self) -> LiteLLM:
        command = ensure_installed()
        cmd = [str(command), "--config", str(self.config), "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--num_workers", str(self.workers)]
        env = {
            # No network beyond the machine: the bundled cost map, no telemetry, quiet logs.
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_LOG": "ERROR",
            "LITELLM_TELEMETRY": "False",
            "LITELLM_MASTER_KEY": MASTER_KEY,
            "DISABLE_SCHEMA_UPDATE": "True",
            "PATH": f"{VENV / 'bin'}:/usr/bin:/bin",
        }
        self.proc = Proc(f"bench-litellm-{self.port}", cmd, env)

        def ready() -> bool:
            if not self.proc.alive():
                raise RuntimeError(f"litellm exited:\n{self.proc.log_tail()}")
            try:
                return requests.get(self.base_url + "/health/liveliness", timeout=2).ok
            except requests.RequestException:
                return False

        wait_for(ready, 120, 0.5, "the LiteLLM proxy")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()

    def __enter__(self) -> LiteLLM:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
