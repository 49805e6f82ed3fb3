"""The serving part every small fake shares: a threaded HTTP server on a free local port."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LocalServer:
    """`with Fake(...) as fake:` serves `handler` from a daemon thread until the block ends.

    Each request's handler reaches the fake as `self.fake` (a subclass made per server, so two
    fakes of one kind never share state)."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        self._handler = handler
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self):
        handler = type("Handler", (self._handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"
