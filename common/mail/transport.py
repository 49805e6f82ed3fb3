"""How a mail leaves: SMTP (`SMTP_HOST` set) or, in development, an .eml file in `MAIL_DIR`.

A transport raises `SendFailed` with `permanent=True` only when the server refused the mail for
good (a 5xx answer to the recipient or the data); everything else — the server down, a timeout,
a 4xx — is worth trying again later.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
import time
from email.message import EmailMessage
from pathlib import Path

from config import Settings

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
_LINK = re.compile(r"https?://\S+")


class SendFailed(Exception):
    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class SmtpTransport:
    def __init__(self, settings: Settings):
        self.settings = settings

    def send(self, message: EmailMessage) -> None:
        s = self.settings
        try:
            if s.smtp_ssl:
                context = ssl.create_default_context()
                smtp = smtplib.SMTP_SSL(
                    s.smtp_host, s.smtp_port, timeout=s.smtp_timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
            with smtp:
                if s.smtp_starttls and not s.smtp_ssl:
                    smtp.starttls(context=ssl.create_default_context())
                if s.smtp_user:
                    smtp.login(s.smtp_user, s.smtp_pass)
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            answers = list(exc.recipients.values())
            said = "; ".join(f"{code} {_text(text)}" for code, text in answers)
            permanent = _all_permanent([code for code, _ in answers])
            raise SendFailed(f"recipient refused: {said}", permanent) from exc
        except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
            raise SendFailed(
                f"{exc.smtp_code} {_text(exc.smtp_error)}", exc.smtp_code >= 500
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:  # down, timeout, TLS, auth, 4xx
            raise SendFailed(f"{type(exc).__name__}: {exc}") from exc

    def describe(self) -> str:
        return f"SMTP {self.settings.smtp_host}:{self.settings.smtp_port}"


class FileTransport:
    """Development: each mail becomes `MAIL_DIR/<time>-<kind>-<to>.eml`, and its links are logged
    so a person running the stack can follow a reset or confirmation link."""

    def __init__(self, settings: Settings):
        folder = Path(settings.mail_dir)
        self.folder = folder if folder.is_absolute() else ROOT / folder

    def send(self, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        safe_to = re.sub(r"[^A-Za-z0-9@._-]", "_", str(message["To"]))[:80]
        kind = re.sub(r"[^a-z_]", "", str(message.get("X-AIPasta-Kind", "mail")))
        path = self.folder / f"{stamp}-{time.time_ns() % 10**9:09d}-{kind}-{safe_to}.eml"
        path.write_bytes(message.as_bytes())
        body = message.get_body(("plain",))
        links = _LINK.findall(body.get_content() if body else "")
        log.warning(
            "mail to %s (%s) written to %s (no SMTP_HOST); links: %s",
            message["To"],
            message["Subject"],
            path,
            " ".join(links) or "none",
        )

    def describe(self) -> str:
        return f"files in {self.folder}"


def transport_for(settings: Settings) -> SmtpTransport | FileTransport:
    return SmtpTransport(settings) if settings.smtp_host else FileTransport(settings)


def _all_permanent(codes: list[int]) -> bool:
    return bool(codes) and all(code >= 500 for code in codes)


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
