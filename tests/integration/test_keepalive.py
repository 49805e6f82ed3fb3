"""gunicorn keeps an idle client connection open for `WEB_KEEPALIVE_SECONDS` (gunicorn.conf.py).

An SDK pools its connections and sends its next request on one that sat idle. gunicorn's own
default (2 s) closed them under the client, and a request sent as the server closed was lost.
These run the web tier as deployed (gunicorn with the gevent worker, reading gunicorn.conf.py)
and reuse one HTTP connection after an idle gap.
"""

from __future__ import annotations

import contextlib
import http.client
import time

import pytest

from tests.support.services import VENV_BIN, Proc, free_port, wait_http
from tests.support.stack import WEB_COMMAND, settings_env


@contextlib.contextmanager
def gunicorn(settings, **env: str):
    port = free_port()
    cmd = [str(VENV_BIN / WEB_COMMAND[0]), *WEB_COMMAND[1:], "-b", f"127.0.0.1:{port}", "wsgi:app"]
    proc = Proc(f"keepalive-web-{port}", cmd, settings_env(settings, **env))
    try:
        wait_http(f"http://127.0.0.1:{port}/api/config", 60, proc)
        yield port
    finally:
        proc.stop()


def get_config(conn: http.client.HTTPConnection) -> int:
    conn.request("GET", "/api/config")
    res = conn.getresponse()
    res.read()
    return res.status


def test_a_pooled_connection_is_reused_after_an_idle_gap(base_settings):
    with gunicorn(base_settings) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        assert get_config(conn) == 200
        first = conn.sock.getsockname()
        time.sleep(3.5)  # longer than gunicorn's own default keep-alive (2 s)
        assert get_config(conn) == 200
        assert conn.sock.getsockname() == first  # the same connection, not a new one
        conn.close()


def test_the_keepalive_setting_is_the_one_in_force(base_settings):
    """With 1 s, the server closes the idle connection: the setting reaches gunicorn."""
    with gunicorn(base_settings, WEB_KEEPALIVE_SECONDS="1") as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        assert get_config(conn) == 200
        time.sleep(2.5)
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            get_config(conn)
        conn.close()
