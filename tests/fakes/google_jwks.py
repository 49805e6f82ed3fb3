"""A local stand-in for Google's JWKS endpoint, and a signer for ID tokens it vouches for.

Google is unreachable from test machines; the product fetches keys from `GOOGLE_JWKS_URL`, so
tests serve a real JWKS document over HTTP on loopback and sign tokens with the matching
locally generated RSA key.

    with FakeGoogle() as google:
        settings_override(google_jwks_url=google.jwks_url, google_client_id=google.client_id)
        token = google.id_token(sub="123", email="ann@example.com")
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://accounts.google.com"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


_shared_key: list[rsa.RSAPrivateKey] = []


def shared_key() -> rsa.RSAPrivateKey:
    """One key for every fake in the session: generating RSA keys is slow."""
    if not _shared_key:
        _shared_key.append(new_key())
    return _shared_key[0]


class FakeGoogle:
    def __init__(self, client_id: str = "test-client.apps.googleusercontent.com"):
        self.client_id = client_id
        self.key = shared_key()
        self.kid = uuid.uuid4().hex
        self.requests = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def jwks_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/oauth2/v3/certs"

    def jwks(self) -> dict:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def claims(self, **overrides: Any) -> dict:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": self.client_id,
            "sub": "1098765432101234567890",
            "email": "ann@example.com",
            "email_verified": True,
            "name": "Ann Google",
            "picture": "https://example.com/ann.png",
            "iat": now,
            "exp": now + 3600,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def id_token(
        self, key: rsa.RSAPrivateKey | None = None, kid: str | None = None, **claims
    ) -> str:
        """An RS256 ID token; `key`/`kid` sign it with another key, `claims` override any claim."""
        return jwt.encode(
            self.claims(**claims),
            key or self.key,
            algorithm="RS256",
            headers={"kid": kid or self.kid},
        )

    def unsigned_token(self, **claims) -> str:
        """The `alg: none` forgery: the right kid and claims, no signature."""
        return jwt.encode(self.claims(**claims), None, algorithm="none", headers={"kid": self.kid})

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                fake.requests += 1
                body = json.dumps(fake.jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler

    def __enter__(self) -> FakeGoogle:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
