"""The websocket endpoint `/ws` (DESIGN.md's protocol).

Auth by `?token=` (an access token; refresh tokens are refused) or a first `{"type":"auth"}`
frame, else close 4401. Then `chat.send`,
`subscribe` (replay after `afterSeq`, then live), `cancel` and `ping`. Stream frames reach the
socket through the process's one shared pub/sub listener (`web.streams.hub`); every frame to one
socket goes through its `Outbox`, so sends never interleave. Errors are `error` frames built from
the same `AppError` classes as HTTP errors.

Limits (docs/security.md): a frame larger than `WS_MAX_FRAME_BYTES` closes the socket 1009 while
it arrives (simple-websocket's `max_message_size`, set in the app factory), JSON nested deeper
than `MAX_JSON_DEPTH` is a VALIDATION_ERROR frame, and each socket may send `WS_FRAME_RATE`
frames (a moving window): more get RATE_LIMITED frames, and a socket that keeps going is closed
4429.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import logging
import threading
import time
from typing import Any

from flask import Flask, request
from limits import parse as parse_limit
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from simple_websocket import ConnectionClosed
from wsproto.events import TextMessage

from common import metrics
from common.conversations import sessions
from common.engine.cancel import cancel_message
from common.errors import (
    AppError,
    DailyLimit,
    NotFound,
    Paywall,
    RateLimited,
    Unauthorized,
    ValidationError,
)
from common.sending.idempotency import check_key
from common.users.models import User
from common.users.service import find_user
from common.users.snapshot import snapshot, snapshot_from_doc
from web import drain
from web.chat.commands import send_turn
from web.chat.schemas import SendBody
from web.extensions import sock
from web.security import authenticate_raw_token, recheck_claims
from web.settings import current_settings
from web.streams import Outbox, Subscription, hub
from web.validation import loads, validate

log = logging.getLogger(__name__)

AUTH_TIMEOUT = 10.0
CLOSE_UNAUTHORIZED = 4401
CLOSE_INTERNAL = 1011
CLOSE_RATE_LIMITED = 4429
USER_REUSE_SECONDS = 5.0
IDLE_RECHECK_SECONDS = 30.0  # a socket that sends nothing re-checks its token this often


def send_texts(ws, texts: list[str]) -> None:
    """Send text frames completely, in one write. simple-websocket's own `send` uses
    `socket.send`, which may write only part of a frame when the socket buffer is full (seen
    under load as corrupt frames on the client); `sendall` writes all of it."""
    if not ws.connected:
        raise ConnectionClosed(ws.close_reason, ws.close_message)
    ws.sock.sendall(b"".join(ws.ws.send(TextMessage(data=text)) for text in texts))


class _Revoked(Exception):
    """The user behind this socket may no longer use it (deactivated or gone)."""


class _Flooding(Exception):
    """The socket kept sending after as many RATE_LIMITED answers as its limit allows."""


# Frames per socket, counted in this process (a socket lives in one process): one in-memory
# store (made on first use: it starts a timer thread) with a key per socket.
_frame_limiters: list[MovingWindowRateLimiter] = []
_socket_ids = itertools.count(1)


def _frame_limiter() -> MovingWindowRateLimiter:
    if not _frame_limiters:
        _frame_limiters.append(MovingWindowRateLimiter(MemoryStorage()))
    return _frame_limiters[0]


class FrameRate:
    """`WS_FRAME_RATE` for one socket: `allow()` counts a frame or refuses it."""

    def __init__(self):
        self.limit = parse_limit(current_settings().ws_frame_rate)
        self.key = f"ws-socket-{next(_socket_ids)}"
        self.refused = 0  # in a row

    def allow(self) -> bool:
        if _frame_limiter().hit(self.limit, self.key):
            self.refused = 0
            return True
        self.refused += 1
        if self.refused > self.limit.amount:
            raise _Flooding(f"Too many frames ({self.limit}); reconnect later.")
        return False

    def refusal(self) -> RateLimited:
        reset_at, _ = _frame_limiter().get_window_stats(self.limit, self.key)
        retry = max(1, round(reset_at - time.time()))
        return RateLimited(
            f"Too many frames ({self.limit}). Retry in {retry} s.",
            {"limit": str(self.limit), "retryAfter": retry},
        )

    def forget(self) -> None:
        _frame_limiter().clear(self.limit, self.key)


class Connection:
    """One authenticated socket and the streams it follows."""

    def __init__(self, ws, user: User, claims: dict):
        self.ws, self.user_id, self.claims = ws, user.id, claims
        self.outbox = Outbox(functools.partial(send_texts, ws))
        self.subs: dict[str, Subscription] = {}
        self.rate = FrameRate()
        self.remember(user)
        self.busy = threading.Lock()  # held while a frame is handled (a drain waits for it)
        drain.track(self)
        metrics.websocket_opened()

    def remember(self, user: User) -> None:
        """Keep the freshest copy of the user (from auth, a reload, or a hold's answer)."""
        self.cached_user, self.cached_at = user, time.monotonic()

    def fresh_user(self, max_age: float = USER_REUSE_SECONDS) -> User:
        """The user for a send: reused for a few seconds, since plan and limits change rarely.
        Each reload also re-checks the token (logout, password change, expiry), and
        deactivation stops a send at once anyway (the wallet hold requires an active account)."""
        if time.monotonic() - self.cached_at > max_age:
            self.remember(recheck_claims(self.claims))
        return self.cached_user

    def send(self, frame: dict[str, Any]) -> None:
        self.outbox.put(json.dumps(frame, separators=(",", ":"), default=str))

    def user(self) -> dict | None:
        user = find_user(self.user_id)
        return snapshot(user) if user else None

    def error(self, exc: AppError, with_user: bool = True, **ids: Any) -> None:
        frame = {"type": "error", **{k: v for k, v in ids.items() if v is not None}}
        frame.update(code=exc.code, message=exc.message, details=exc.details)
        if with_user:
            frame["user"] = self.user()
        self.send(frame)

    def follow(self, message_id: str, after_seq: int = 0, stored=None) -> None:
        old = self.subs.pop(message_id, None)
        if old is not None:
            old.stop()
        sub = Subscription(hub, self.outbox, message_id, after_seq)
        self.subs[message_id] = sub
        sub.start(stored)

    def follow_before_enqueue(self, message_id: str) -> None:
        """Subscribe to a new answer before its task is sent (no replay needed); its frames
        wait for `go_live` (after `accepted`)."""
        sub = Subscription(hub, self.outbox, message_id, 0)
        self.subs[message_id] = sub
        sub.attach_before_enqueue()

    def close(self) -> None:
        for sub in self.subs.values():
            sub.stop()
        self.subs.clear()
        self.outbox.close()
        self.rate.forget()
        drain.untrack(self)
        metrics.websocket_closed()

    def reconnect_elsewhere(self) -> None:
        """Draining (web.drain): finish the frame in hand, send what is queued, close 4503."""
        with self.busy:
            self.outbox.flush_and_close()
            with contextlib.suppress(ConnectionClosed):
                self.ws.close(reason=drain.CLOSE_RECONNECT, message=drain.RECONNECT_MESSAGE)
            self.ws.event.set()  # wake the reader blocked in `receive` (simple-websocket 1.1)


def register_websocket(app: Flask) -> None:
    sock.route("/ws")(websocket)


def websocket(ws) -> None:
    """Nothing may escape into Flask: after the upgrade, an HTTP error page written on the
    socket would reach the client as a corrupt frame. Unexpected failures close with 1011."""
    conn = None
    try:
        signed_in = _authenticate(ws)
        if signed_in is None:
            return
        conn = Connection(ws, *signed_in)
        if drain.draining():
            conn.reconnect_elsewhere()
        while True:
            raw = ws.receive(timeout=IDLE_RECHECK_SECONDS)
            if raw is not None:
                if conn.rate.allow():
                    with conn.busy:
                        _handle(conn, raw)
                else:  # no parsing, no database: a flood costs this socket only
                    conn.error(conn.rate.refusal(), with_user=False)
            else:  # quiet for a while: is the token still good? (logout, password change)
                _recheck_idle(conn)
    except ConnectionClosed:
        pass
    except _Revoked as exc:
        conn.outbox.flush_and_close()  # the error frame goes out before the close frame
        with contextlib.suppress(Exception):
            ws.close(reason=CLOSE_UNAUTHORIZED, message=str(exc)[:120])
    except _Flooding as exc:
        conn.outbox.flush_and_close()
        with contextlib.suppress(Exception):
            ws.close(reason=CLOSE_RATE_LIMITED, message=str(exc)[:120])
    except Exception:
        log.exception("websocket failed")
        with contextlib.suppress(Exception):
            ws.close(reason=CLOSE_INTERNAL, message="Internal error; please reconnect.")
    finally:
        if conn is not None:
            conn.close()


def _recheck_idle(conn: Connection) -> None:
    try:
        conn.fresh_user(max_age=IDLE_RECHECK_SECONDS)
    except Unauthorized as exc:
        conn.error(exc)
        raise _Revoked(exc.message) from None


def _authenticate(ws) -> tuple[User, dict] | None:
    token = request.args.get("token")
    try:
        if not token:
            first = _parse(ws.receive(timeout=AUTH_TIMEOUT))
            if first.get("type") != "auth" or not isinstance(first.get("token"), str):
                raise Unauthorized('Send {"type":"auth","token":...} first.')
            token = first["token"]
        return authenticate_raw_token(token)
    except (AppError, ValueError) as exc:
        message = exc.message if isinstance(exc, AppError) else "Unauthorized"
        with contextlib.suppress(ConnectionClosed):
            ws.close(reason=CLOSE_UNAUTHORIZED, message=message[:120])
        return None


def _parse(raw) -> dict:
    if raw is None:
        raise Unauthorized("No authentication received.")
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    frame = loads(raw, "A frame")
    if not isinstance(frame, dict):
        raise ValidationError("Frames must be JSON objects.")
    return frame


def _handle(conn: Connection, raw) -> None:
    frame: dict = {}
    try:
        frame = _parse(raw)
        kind = frame.get("type")
        if not isinstance(kind, str):
            raise ValidationError("type: must be a string naming the frame.")
        handler = _HANDLERS.get(kind)
        if handler is None:
            raise ValidationError(f"Unknown frame type {kind[:60]!r}.")
        handler(conn, frame)
    except AppError as exc:
        conn.error(
            exc, requestId=_str(frame.get("requestId")), messageId=_str(frame.get("messageId"))
        )
        if isinstance(exc, Unauthorized):  # deactivated while connected: the socket ends too
            raise _Revoked(exc.message) from None
    except Exception:
        log.exception("websocket frame failed")
        conn.error(AppError(), requestId=_str(frame.get("requestId")))


def _str(value) -> str | None:
    return value if isinstance(value, str) else None


def _chat_send(conn: Connection, frame: dict) -> None:
    body = validate(
        SendBody, {k: v for k, v in frame.items() if k not in ("type", "requestId", "wait")}
    )
    # A string requestId is the send's idempotency key, per user (docs/chat.md).
    key = frame.get("requestId")
    key = check_key(key, "requestId") if isinstance(key, str) else None
    try:
        result = send_turn(body.command(conn.fresh_user(), key), conn.follow_before_enqueue)
    except (Paywall, DailyLimit):
        # The plan may have changed since the copy we reused (a purchase): decide on a fresh one.
        conn.cached_at = float("-inf")
        result = send_turn(body.command(conn.fresh_user(), key), conn.follow_before_enqueue)
    if result.user_after:
        conn.remember(User._from_son(result.user_after))
    conn.send(
        {
            "type": "accepted",
            "requestId": _str(frame.get("requestId")),
            "sessionId": result.session.sessionId,
            "userMessageId": str(result.user_message.id),
            # The tree: what the user message follows, and the leaf the session now shows.
            "parentId": str(result.user_message.parentId) if result.user_message.parentId else None,
            "leafId": result.leaf_id,
            "messages": [{"messageId": str(m.id), "modelId": m.modelId} for m in result.messages],
            "user": snapshot_from_doc(result.user_after) if result.user_after else conn.user(),
            **({"replayed": True} if result.replayed else {}),
        }
    )
    for msg in result.messages:
        sub = conn.subs.get(str(msg.id))
        if sub is not None and not result.replayed and not sub.live:  # before its enqueue
            sub.go_live()
        else:  # an earlier send's answers (a replay): read back what they published
            conn.follow(str(msg.id), 0)


def _subscribe(conn: Connection, frame: dict) -> None:
    message_id = frame.get("messageId")
    after = frame.get("afterSeq", 0)
    if not isinstance(message_id, str) or not message_id:
        raise ValidationError("messageId: required")
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise ValidationError("afterSeq: must be a non-negative integer")
    msg = sessions.get_message(conn.user_id, message_id)
    if msg.role != "assistant":
        raise NotFound("Message not found.")
    conn.follow(message_id, after, stored=msg)  # an ended answer Redis forgot ends from the store


def _cancel(conn: Connection, frame: dict) -> None:
    message_id = frame.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        raise ValidationError("messageId: required")
    cancel_message(conn.user_id, message_id)
    if message_id not in conn.subs:  # make sure this socket hears the `cancelled` frame
        conn.follow(message_id, 1 << 62)


def _ping(conn: Connection, frame: dict) -> None:
    conn.send({"type": "pong"})


def _auth_again(conn: Connection, frame: dict) -> None:
    """A late `auth` frame on an authenticated socket is accepted and ignored."""


_HANDLERS = {
    "chat.send": _chat_send,
    "subscribe": _subscribe,
    "cancel": _cancel,
    "ping": _ping,
    "auth": _auth_again,
}
