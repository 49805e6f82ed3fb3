"""Start Flower only behind a real password: `python -m worker.flower [flower options]`.

Flower can revoke tasks and shut workers down, so docker-compose starts it through this guard,
which refuses (exit 2, with the reason) when FLOWER_BASIC_AUTH is unset, is not `user:password`
pairs, or holds a placeholder or short password (`.env.example`'s `change-me` included).
"""

from __future__ import annotations

import os
import sys

from config import get_settings

MIN_PASSWORD = 12
PLACEHOLDERS = ("change-me", "changeme", "password", "secret", "admin", "flower", "example")


def problem(basic_auth: str) -> str | None:
    """Why `basic_auth` (`user:pass[,user:pass...]`) must not protect Flower; None if fine."""
    if not basic_auth:
        return "FLOWER_BASIC_AUTH is not set"
    for pair in basic_auth.split(","):
        user, sep, password = pair.partition(":")
        if not sep or not user or not password:
            return "FLOWER_BASIC_AUTH must be user:password pairs, comma-separated"
        if any(word in password.lower() for word in PLACEHOLDERS):
            return f"the password for {user!r} is a placeholder; set a random one"
        if len(password) < MIN_PASSWORD:
            return f"the password for {user!r} is shorter than {MIN_PASSWORD} characters"
    return None


def main(argv: list[str]) -> None:
    auth = get_settings().flower_basic_auth
    reason = problem(auth)
    if reason:
        print(f"Refusing to start Flower: {reason}.", file=sys.stderr)
        sys.exit(2)
    args = ["celery", "-A", "worker.celery_app", "flower", f"--basic-auth={auth}", *argv]
    os.execvp(args[0], args)


if __name__ == "__main__":
    main(sys.argv[1:])
