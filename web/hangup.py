"""Whether the client of the current request has hung up.

A response that writes nothing while it waits for an answer (`/v1` without `stream`, `POST
/api/chat` with `"wait": true`) learns of a closed connection no other way; the waiting answer is
then cancelled and charged only for what was generated, as a streaming client's disconnect is.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Callable

from flask import request

HANG_UP_CHECK_SECONDS = 0.5  # a waiting answer checks its client this often


def client_hung_up() -> Callable[[], bool]:
    """For this request: a check whether its client closed the connection. gunicorn hands the
    socket over in the environ; without it (a test client) the check always says no."""
    sock = request.environ.get("gunicorn.socket")
    if sock is None:
        return lambda: False

    def hung_up() -> bool:
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            # Readable with nothing to read: the peer's FIN (a pipelined request would be data).
            return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:  # reset by the peer
            return True

    return hung_up
