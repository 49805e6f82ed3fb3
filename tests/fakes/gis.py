"""A local stand-in for Google Identity Services' script (`GOOGLE_GIS_URL`), for the browser
tests only. Its "Continue with Google" button gets an ID token for `account` signed by the local
Google (`FakeGoogle`, whose JWKS the product checks) for the client id the page initialised it
with, and hands it to the page's callback: the product's code path is the real one."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.fakes.google_jwks import FakeGoogle
from tests.fakes.served import LocalServer

SCRIPT = Path(__file__).resolve().parent / "gis" / "client.js"


class FakeGis(LocalServer):
    def __init__(self, google: FakeGoogle):
        super().__init__(_Handler)
        self.google = google
        self.account = {"sub": "4242", "email": "gina@example.com", "name": "Gina Google"}

    @property
    def script_url(self) -> str:
        return f"{self.origin}/gsi/client"


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGis
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def _send(self, body: bytes, kind: str, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        url = urlsplit(self.path)
        if url.path == "/gsi/client":
            self._send(SCRIPT.read_bytes(), "application/javascript")
        elif url.path == "/gsi/token":
            client_id = parse_qs(url.query).get("client_id", [""])[0]
            token = self.fake.google.id_token(aud=client_id, **self.fake.account)
            self._send(json.dumps({"credential": token}).encode(), "application/json")
        else:
            self._send(b"not found", "text/plain", 404)
