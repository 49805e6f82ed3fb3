#!/usr/bin/env bash
# What `make test` needs besides .venv, set up on a fresh machine:
#   - Redis answering on 127.0.0.1:6379 (the suite claims a private database in it);
#   - Debian's chromium at /usr/bin/chromium (the browser tests drive it through Playwright;
#     Playwright's own browser download is unreachable).
# Missing packages are installed with apt-get when running as root; otherwise the script says
# what to install and exits 1. Nothing already present is touched. (The two variables below
# can be overridden; tests/integration/test_fresh_machine.py does, to try the install branches.)
set -euo pipefail

REDIS_PORT=${PREREQS_REDIS_PORT:-6379}
CHROMIUM=${PREREQS_CHROMIUM:-/usr/bin/chromium}

say() { printf '[test-prereqs] %s\n' "$*"; }

is_root() { [ "$(id -u)" -eq 0 ]; }

apt_updated=""
apt_install() {
  # $@: Debian packages. Runs apt-get update once per run.
  if ! command -v apt-get >/dev/null 2>&1; then
    return 1
  fi
  if [ -z "$apt_updated" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

need_package() {
  # $1: what is missing, $2: the Debian package that provides it.
  if is_root && apt_install "$2"; then
    say "installed $2"
    return 0
  fi
  say "missing: $1. Install it, e.g. 'sudo apt-get install $2', then run 'make test' again."
  exit 1
}

redis_answers() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$REDIS_PORT; printf 'PING\r\n' >&3; head -c 7 <&3" \
    2>/dev/null | grep -q PONG
}

ensure_redis() {
  if redis_answers; then
    return 0
  fi
  command -v redis-server >/dev/null 2>&1 || need_package "redis-server" redis-server
  say "starting redis-server on 127.0.0.1:$REDIS_PORT (no persistence)"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    >/dev/null
  for _ in $(seq 1 50); do
    redis_answers && return 0
    sleep 0.1
  done
  say "redis-server did not answer on 127.0.0.1:$REDIS_PORT"
  exit 1
}

ensure_chromium() {
  if [ -x "$CHROMIUM" ]; then
    return 0
  fi
  need_package "Debian's chromium at $CHROMIUM (the browser tests)" chromium
  if [ ! -x "$CHROMIUM" ]; then
    say "chromium was installed but $CHROMIUM is still missing"
    exit 1
  fi
}

ensure_redis
ensure_chromium
