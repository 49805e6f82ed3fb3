"""The websocket endpoint `/ws` (DESIGN.md's protocol).

Auth by `?token=` or a first `{"type":"auth"}` frame, else close 4401. Then `chat.send`,
`subscribe` (replay after `afterSeq`, then live), `cancel` and `ping`. Stream frames reach the
socket through the process's one shared pub/sub listener (`web.streams.hub`); every frame to one
socket goes through its `Outbox`, so sends never interleave. Errors are `error` frames built from
the same `AppError` classes as HTTP errors.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import time
from typing import Any

from flask import Flask, request
from simple_websocket import ConnectionClosed
from wsproto.events import TextMessage

from common.chat import sessions
from common.chat.cancel import cancel_message
from common.errors import (
    AppError,
    DailyLimit,
    NotFound,
    Paywall,
    Unauthorized,
    ValidationError,
)
from common.users.models import User
from common.users.snapshot import snapshot, snapshot_from_doc
from web.chat.commands import send_turn
from web.chat.schemas import SendBody
from web.extensions import sock
from web.security import authenticate_raw_token, recheck_claims
from web.streams import Outbox, Subscription, hub
from web.validation import validate

log = logging.getLogger(__name__)

AUTH_TIMEOUT = 10.0
CLOSE_UNAUTHORIZED = 4401
CLOSE_INTERNAL = 1011
MAX_FRAME_CHARS = 1_000_000
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


class Connection:
    """One authenticated socket and the streams it follows."""

    def __init__(self, ws, user: User, claims: dict):
        self.ws, self.user_id, self.claims = ws, user.id, claims
        self.outbox = Outbox(functools.partial(send_texts, ws))
        self.subs: dict[str, Subscription] = {}
        self.remember(user)

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
        user = User.objects(id=self.user_id).first()
        return snapshot(user) if user else None

    def error(self, exc: AppError, **ids: Any) -> None:
        frame = {"type": "error", **{k: v for k, v in ids.items() if v is not None}}
        frame.update(code=exc.code, message=exc.message, details=exc.details, user=self.user())
        self.send(frame)

    def follow(self, message_id: str, after_seq: int = 0) -> None:
        old = self.subs.pop(message_id, None)
        if old is not None:
            old.stop()
        sub = Subscription(hub, self.outbox, message_id, after_seq)
        self.subs[message_id] = sub
        sub.start()

    def close(self) -> None:
        for sub in self.subs.values():
            sub.stop()
        self.subs.clear()
        self.outbox.close()


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
        while True:
            raw = ws.receive(timeout=IDLE_RECHECK_SECONDS)
            if raw is not None:
                _handle(conn, raw)
            else:  # quiet for a while: is the token still good? (logout, password change)
                _recheck_idle(conn)
    except ConnectionClosed:
        pass
    except _Revoked as exc:
        conn.outbox.flush_and_close()  # the error frame goes out before the close frame
        with contextlib.suppress(Exception):
            ws.close(reason=CLOSE_UNAUTHORIZED, message=str(exc)[:120])
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
    if len(raw) > MAX_FRAME_CHARS:
        raise ValidationError("The frame is too large.")
    try:
        frame = json.loads(raw)
    except ValueError:
        raise ValidationError("Frames must be JSON objects.") from None
    if not isinstance(frame, dict):
        raise ValidationError("Frames must be JSON objects.")
    return frame


def _handle(conn: Connection, raw) -> None:
    frame: dict = {}
    try:
        frame = _parse(raw)
        handler = _HANDLERS.get(frame.get("type"))
        if handler is None:
            raise ValidationError(f"Unknown frame type {frame.get('type')!r}.")
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
    try:
        result = send_turn(body.command(conn.fresh_user()))
    except (Paywall, DailyLimit):
        # The plan may have changed since the copy we reused (a purchase): decide on a fresh one.
        conn.cached_at = float("-inf")
        result = send_turn(body.command(conn.fresh_user()))
    if result.user_after:
        conn.remember(User._from_son(result.user_after))
    conn.send(
        {
            "type": "accepted",
            "requestId": _str(frame.get("requestId")),
            "sessionId": result.session.sessionId,
            "userMessageId": str(result.user_message.id),
            "messages": [{"messageId": str(m.id), "modelId": m.modelId} for m in result.messages],
            "user": snapshot_from_doc(result.user_after) if result.user_after else conn.user(),
        }
    )
    for msg in result.messages:
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
    conn.follow(message_id, after)


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
