"""`/ws` under attack, against the running stack (gunicorn's gevent worker, a Celery worker):
hostile JSON, frame types that are not strings, refresh tokens, oversized frames and floods.
Each is refused in the documented way (docs/security.md) and the socket layer stays healthy."""

from __future__ import annotations

import contextlib
import json
import threading
import time

import psutil
import pytest
import websocket
from flask_jwt_extended import create_refresh_token

from tests.support.wsclient import WsClient
from web.validation import MAX_JSON_DEPTH

DEEP = "[" * 100_000 + "]" * 100_000
DEEP_FIELD = '{"type":"ping","x":' + "[" * 5_000 + "]" * 5_000 + "}"
UNKNOWN = "0" * 24  # a message id nobody owns: `subscribe` answers NOT_FOUND after a lookup
LIMIT = 60  # frames per socket in this module's stack


@pytest.fixture(scope="module")
def stack_settings(base_settings, fake):
    """The chat stack, with the frame budget counted over a minute rather than the default 10 s
    so that a slow machine's flood cannot outlast the window (the rule is the same)."""
    return base_settings.with_overrides(
        openrouter_base_url=fake.base_url, hold_lease_seconds=2, ws_frame_rate=f"{LIMIT}/minute"
    )


def close_code(client: WsClient, timeout: float = 10) -> int:
    """Read until the close frame; its code."""
    client.ws.settimeout(timeout)
    while True:
        opcode, data = client.ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(data[:2], "big")


def still_works(client: WsClient) -> None:
    client.send(type="ping")
    assert client.until(lambda f: f["type"] == "pong", 10) == {"type": "pong"}


# -- item 13: deeply nested JSON -------------------------------------------------------------


def test_deeply_nested_first_frame_closes_4401_not_1011(live):
    for text in (DEEP, DEEP_FIELD):
        bare = WsClient(live.ws_url)
        bare.ws.send(text)
        assert close_code(bare) == 4401


def test_deeply_nested_frame_is_a_validation_error_frame(live, ws):
    for text in (DEEP, DEEP_FIELD):
        ws.ws.send(text)
        err = ws.recv(10)
        assert (err["type"], err["code"]) == ("error", "VALIDATION_ERROR"), err
        assert "nested too deeply" in err["message"]
        assert err["details"]["maxDepth"] == MAX_JSON_DEPTH
    still_works(ws)


# -- item 14: a `type` that is not a string ---------------------------------------------------


def test_frame_type_object_or_list_is_a_validation_error(live, ws):
    for kind in ({"$ne": None}, ["chat.send"], 7, None):
        ws.send(type=kind, requestId="r1")
        err = ws.recv(10)
        assert (err["type"], err["code"], err["requestId"]) == ("error", "VALIDATION_ERROR", "r1")
        assert err["message"] == "type: must be a string naming the frame."
    ws.send(type="x" * 10_000)
    assert len(ws.recv(10)["message"]) < 200  # an unknown type is not echoed whole
    still_works(ws)


# -- item 18: refresh tokens -------------------------------------------------------------------


def test_refresh_token_does_not_open_a_socket(live, app, user):
    with app.app_context():
        refresh = create_refresh_token(identity=user[0]["id"], additional_claims={"tv": 0})
    assert close_code(WsClient(live.ws_url, refresh)) == 4401
    by_frame = WsClient(live.ws_url)
    by_frame.send(type="auth", token=refresh)
    assert close_code(by_frame) == 4401
    still_works(WsClient(live.ws_url, user[1]))  # the access token still does


# -- item 15: frame size -----------------------------------------------------------------------


def _web_worker(live) -> psutil.Process:
    master = psutil.Process(live.web.pid)
    children = master.children()
    assert len(children) == 1, children
    return children[0]


class PeakRss:
    """Samples a process's resident memory every few milliseconds while in use."""

    def __init__(self, proc: psutil.Process):
        self.proc, self.peak, self._stop = proc, proc.memory_info().rss, threading.Event()
        self.start = self.peak
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.005)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        time.sleep(0.5)  # whatever the server does after the frame arrived
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 2**20


def test_oversized_frame_is_refused_before_it_is_buffered(live, stack_settings):
    """An unauthenticated 48 MB frame: the socket closes 1009 once `WS_MAX_FRAME_BYTES` have
    arrived; the web process never holds the frame (it grew by ~88 MB when it did)."""
    frame = json.dumps({"type": "auth", "token": "x" * (48 * 2**20)})
    worker = _web_worker(live)
    bare = WsClient(live.ws_url)
    with PeakRss(worker) as rss:
        with contextlib.suppress(OSError, websocket.WebSocketException):
            bare.ws.send(frame)
        with contextlib.suppress(OSError, websocket.WebSocketException):
            assert close_code(bare) == 1009
    print(f"web worker RSS peak growth: {rss.growth_mb:.1f} MB")
    assert rss.growth_mb < 16, rss.growth_mb
    assert stack_settings.ws_max_frame_bytes < 48 * 2**20
    # A frame just under the limit is read (and refused as a bad token, not as too big).
    near = WsClient(live.ws_url)
    near.send(type="auth", token="x" * (stack_settings.ws_max_frame_bytes - 100))
    assert close_code(near) == 4401


# -- item 15: frame rate -----------------------------------------------------------------------


def test_a_flooding_socket_is_limited_and_others_are_served(live, user, make_user):
    """1,000 frames as fast as one socket can send them: the server handles `WS_FRAME_RATE`
    of them, answers RATE_LIMITED (cheaply: no parse, no database) for as many more, then
    closes the socket 4429. Another user's socket is answered promptly throughout."""
    limit = LIMIT
    flooder = WsClient(live.ws_url, user[1])
    _, other_token = make_user()
    other = WsClient(live.ws_url, other_token)
    frame = json.dumps({"type": "subscribe", "messageId": UNKNOWN, "afterSeq": 0})
    sender = threading.Thread(target=_send_many, args=(flooder, frame, 1_000), daemon=True)
    sender.start()
    delays = []
    for _ in range(5):  # the other socket, during the flood
        started = time.monotonic()
        other.send(type="subscribe", messageId=UNKNOWN, afterSeq=0)
        assert other.recv(15)["code"] == "NOT_FOUND"
        delays.append(time.monotonic() - started)
    codes = _codes_until_close(flooder)
    sender.join(30)
    print(f"other socket's answers during the flood: {[round(d, 3) for d in delays]} s")
    assert codes["close"] == 4429
    assert codes["NOT_FOUND"] <= limit, codes
    assert codes["RATE_LIMITED"] == limit, codes  # then the close
    assert max(delays) < 5.0, delays
    # The limit is per socket: the same user's next socket is served.
    still_works(WsClient(live.ws_url, user[1]))


def test_rate_limited_frames_say_when_to_retry(live, ws):
    for _ in range(LIMIT + 1):
        ws.send(type="ping")
    frames = [ws.recv(10) for _ in range(LIMIT + 1)]
    assert [f["type"] for f in frames[:LIMIT]] == ["pong"] * LIMIT
    err = frames[LIMIT]
    assert (err["type"], err["code"]) == ("error", "RATE_LIMITED"), err
    assert 1 <= err["details"]["retryAfter"] <= 60
    assert err["details"]["limit"] == f"{LIMIT} per 1 minute"
    assert "user" not in err  # refused without touching the database


def _send_many(client: WsClient, text: str, count: int) -> None:
    with contextlib.suppress(OSError, websocket.WebSocketException):
        for _ in range(count):
            client.ws.send(text)


def _codes_until_close(client: WsClient) -> dict:
    codes = {"NOT_FOUND": 0, "RATE_LIMITED": 0, "close": None}
    client.ws.settimeout(60)
    while True:
        opcode, data = client.ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            codes["close"] = int.from_bytes(data[:2], "big")
            return codes
        if opcode == websocket.ABNF.OPCODE_TEXT:
            code = json.loads(data).get("code")
            codes[code] = codes.get(code, 0) + 1
