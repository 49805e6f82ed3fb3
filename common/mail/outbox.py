"""Queueing mail and sending it exactly once per key, through SMTP outages.

- **Queue** (`queue`): insert one document under the mail's key, unless the key is there: an
  event handled twice (a webhook storm, a retried task) queues one mail.
- **Send** (`deliver`): one conditional update claims the mail (`pending` and due, or `sending`
  whose sender's lease ran out) and leases it; only the claimer talks to SMTP. A second task for
  the same key, at the same time or later, finds nothing to claim and sends nothing.
- **SMTP down**: the mail goes back to `pending`, due after an exponential backoff
  (`backoff_seconds`); after `MAIL_MAX_ATTEMPTS`, or at once when the server refuses it for
  good (5xx), it is `failed` — listed for admins (`GET /api/admin/mail`), who can retry it.
- **Expired**: a mail whose link expired before it could be sent is not sent (`expired`).

A worker that dies after the server took the mail but before it marked it sent leaves the mail
`sending`; once its lease is over the sweeper sends it again. That window (between SMTP's final
answer and one MongoDB update) is the only way a mail can arrive twice; the Message-ID header
is the same both times, so mail clients and servers that de-duplicate show it once.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any

from mongoengine.errors import NotUniqueError
from pymongo import ReturnDocument

from common import metrics
from common.errors import Conflict, NotFound
from common.mail.models import Mail
from common.mail.render import render
from common.mail.transport import SendFailed, transport_for
from common.stored import iso, object_id_or_none
from config import get_settings

log = logging.getLogger(__name__)


def _mails():
    return Mail._get_collection()


def lease_seconds() -> float:
    """How long a sender holds a claimed mail: longer than any SMTP conversation."""
    return max(60.0, get_settings().smtp_timeout * 6)


def backoff_seconds(attempts: int, base: float, cap: float) -> float:
    """The wait before try number `attempts + 1`: base, 2×base, 4×base, … at most `cap`."""
    return min(cap, base * 2 ** max(0, attempts - 1))


# -- queue ----------------------------------------------------------------------------------------


def queue(
    key: str,
    kind: str,
    to: str,
    context: dict[str, Any],
    user_id: Any = None,
    discard_after: float | None = None,
) -> str:
    """Put the mail `kind` for `to` in the outbox under `key`, rendered now from `context`.

    Idempotent: when `key` is already queued (or sent) nothing changes. Returns `key`, for the
    caller to hand to `mail.send` (the sweeper sends it anyway)."""
    if _mails().find_one({"key": key}, {"_id": 1}) is not None:
        return key
    body = render(kind, context)
    mail = Mail(
        key=key,
        kind=kind,
        to=to,
        subject=body.subject,
        text=body.text,
        html=body.html,
        userId=object_id_or_none(user_id),
        dueAt=time.time(),
        discardAfter=discard_after,
        messageId=_message_id(key),
    )
    try:
        mail.save(force_insert=True)
    except NotUniqueError:
        return key  # queued a moment ago by a concurrent handling of the same event
    metrics.mail_event(kind, "queued")
    return key


def _message_id(key: str) -> str:
    """The same Message-ID whichever sender sends it (see the module docstring)."""
    domain = parseaddr(get_settings().email_from)[1].rpartition("@")[2] or "localhost"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


# -- send -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    # sent, retry (SMTP down: again after `retry_in`), early (not due: again after
    # `retry_in`), failed, expired, skipped (being sent by another, done, or unknown)
    outcome: str
    retry_in: float | None = None


def deliver(key: str, transport=None) -> Delivery:
    """Send the mail `key` if it is due and nobody else is sending it. Safe to call any number
    of times, concurrently: the mail leaves once (see the module docstring for the one window)."""
    now = time.time()
    doc = _claim(key, now)
    if doc is None:
        return _not_claimed(key, now)
    if doc.get("discardAfter") and now > doc["discardAfter"]:
        _finish(key, "expired", "its link expired before it could be sent")
        return Delivery("expired")
    settings = get_settings()
    transport = transport or transport_for(settings)
    try:
        transport.send(build_message(doc))
    except SendFailed as exc:
        return _failed(doc, str(exc)[:500], exc.permanent)
    _finish(key, "sent")
    return Delivery("sent")


def _claim(key: str, now: float) -> dict | None:
    due = [
        {"status": "pending", "dueAt": {"$lte": now}},
        {"status": "sending", "leaseUntil": {"$lte": now}},
    ]
    return _mails().find_one_and_update(
        {"key": key, "$or": due},
        {
            "$set": {"status": "sending", "leaseUntil": now + lease_seconds()},
            "$inc": {"attempts": 1},
        },
        return_document=ReturnDocument.AFTER,
    )


def _not_claimed(key: str, now: float) -> Delivery:
    """`early` (with the wait) for a pending mail not due yet — a timer may fire a moment early,
    and the caller must try again then — else `skipped`: sent, given up, or another sender's."""
    doc = _mails().find_one({"key": key}, {"status": 1, "dueAt": 1})
    if doc and doc.get("status") == "pending" and float(doc.get("dueAt") or 0) > now:
        return Delivery("early", float(doc["dueAt"]) - now + 0.05)
    return Delivery("skipped")


def build_message(doc: dict) -> EmailMessage:
    message = EmailMessage()
    message["From"] = get_settings().email_from
    message["To"] = doc["to"]
    message["Subject"] = doc["subject"]
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = doc.get("messageId") or _message_id(doc["key"])
    message["Auto-Submitted"] = "auto-generated"
    message["X-AIPasta-Kind"] = doc["kind"]
    message.set_content(doc.get("text") or "")
    if doc.get("html"):
        message.add_alternative(doc["html"], subtype="html")
    return message


def _failed(doc: dict, error: str, permanent: bool) -> Delivery:
    settings = get_settings()
    attempts = int(doc.get("attempts") or 1)
    if permanent or attempts >= settings.mail_max_attempts:
        log.error(
            "mail %s to %s failed for good after %d tries: %s",
            doc["key"],
            doc["to"],
            attempts,
            error,
        )
        _finish(doc["key"], "failed", error)
        return Delivery("failed")
    wait = backoff_seconds(
        attempts, settings.mail_retry_base_seconds, settings.mail_retry_max_seconds
    )
    log.warning("mail %s not sent (try %d), again in %.0f s: %s", doc["key"], attempts, wait, error)
    _mails().update_one(
        {"key": doc["key"], "status": "sending"},
        {
            "$set": {"status": "pending", "dueAt": time.time() + wait, "lastError": error},
            "$unset": {"leaseUntil": ""},
            "$currentDate": {"updatedAt": True},
        },
    )
    metrics.mail_event(doc["kind"], "retry")
    return Delivery("retry", wait)


def _finish(key: str, status: str, error: str | None = None) -> None:
    """End a claimed mail. A sent or expired mail's bodies are dropped (see the models)."""
    update: dict[str, Any] = {
        "$set": {"status": status},
        "$unset": {"leaseUntil": ""},
        "$currentDate": {"updatedAt": True},
    }
    if status == "sent":
        update["$currentDate"]["sentAt"] = True
    if status in ("sent", "expired"):
        update["$unset"].update(text="", html="")
    if error:
        update["$set"]["lastError"] = error
    doc = _mails().find_one_and_update({"key": key, "status": "sending"}, update, {"kind": 1})
    if doc is not None:
        metrics.mail_event(doc.get("kind", "?"), status)


def due_keys(limit: int = 200) -> list[str]:
    """Mail the sweeper should try now: due and pending, or held by a sender that vanished."""
    now = time.time()
    query = {
        "$or": [
            {"status": "pending", "dueAt": {"$lte": now}},
            {"status": "sending", "leaseUntil": {"$lte": now}},
        ]
    }
    return [d["key"] for d in _mails().find(query, {"key": 1}).limit(limit)]


# -- admin ----------------------------------------------------------------------------------------


def list_mail(status: str | None, page: int, limit: int) -> tuple[list[dict], int]:
    """The outbox, newest first, without bodies (a reset link is nobody's business)."""
    query = {"status": status} if status else {}
    total = _mails().count_documents(query)
    cursor = _mails().find(query, {"text": 0, "html": 0}).sort("createdAt", -1)
    return [_row(d) for d in cursor.skip((page - 1) * limit).limit(limit)], total


def retry(mail_id: str) -> dict:
    """Send a failed mail again (an admin fixed the SMTP settings or the address)."""
    oid = object_id_or_none(mail_id)
    doc = _mails().find_one({"_id": oid}) if oid else None
    if doc is None:
        raise NotFound("Mail not found.")
    if doc.get("status") != "failed" or not doc.get("text"):
        raise Conflict(f"Only a failed mail can be retried; this one is {doc.get('status')}.")
    doc = _mails().find_one_and_update(
        {"_id": oid, "status": "failed"},
        {
            "$set": {"status": "pending", "attempts": 0, "dueAt": time.time()},
            "$currentDate": {"updatedAt": True},
        },
        return_document=ReturnDocument.AFTER,
    )
    if doc is None:
        raise Conflict("The mail changed meanwhile; reload.")
    return _row(doc)


def _row(doc: dict) -> dict:
    return {
        "id": str(doc["_id"]),
        "key": doc["key"],
        "kind": doc["kind"],
        "to": doc["to"],
        "subject": doc["subject"],
        "status": doc["status"],
        "attempts": int(doc.get("attempts") or 0),
        "lastError": doc.get("lastError"),
        "userId": str(doc["userId"]) if doc.get("userId") else None,
        "createdAt": iso(doc.get("createdAt")),
        "sentAt": iso(doc.get("sentAt")),
        "nextAttemptAt": _epoch_iso(doc.get("dueAt")) if doc["status"] == "pending" else None,
    }


def _epoch_iso(value: Any) -> str | None:
    return datetime.fromtimestamp(float(value), UTC).isoformat() if value else None
