"""The outbox against a real SMTP server on loopback (aiosmtpd), nx-27017 and Redis: a mail is
queued once per key, sent once however often and however concurrently it is delivered, retried
with backoff while the server is down, given up on (and listed for admins) when refused."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from common.mail import outbox
from common.mail.models import Mail
from tests.fakes.smtp import html_of, text_of
from tests.support.http import auth

CONTEXT = {
    "name": "Ann",
    "email": "ann@example.com",
    "when": "1 Jan 2026, 10:00 UTC",
    "forgot_link": "http://localhost:5000/forgot-password",
    "how": "changed",
}


def queue(key: str = "test:1", to: str = "ann@example.com", **kw) -> str:
    return outbox.queue(key, "password_changed", to, CONTEXT, **kw)


def test_a_key_queues_one_mail_rendered_with_the_product_name(settings):
    assert queue() == queue() == "test:1"
    assert Mail.objects.count() == 1
    mail = Mail.objects.get()
    assert mail.subject == "Your AI Pasta password was changed"
    assert "Hello Ann," in mail.text and "AI Pasta" in mail.html
    assert "<strong>ann@example.com</strong>" in mail.html
    assert (mail.status, mail.attempts, mail.kind) == ("pending", 0, "password_changed")


def test_html_is_escaped(settings):
    outbox.queue("x:1", "password_changed", "a@example.com", {**CONTEXT, "name": "<b>Eve</b>"})
    mail = Mail.objects.get()
    assert "&lt;b&gt;Eve&lt;/b&gt;" in mail.html and "<b>Eve</b>" in mail.text


def test_delivered_once_then_its_body_is_dropped(smtp):
    queue()
    assert outbox.deliver("test:1").outcome == "sent"
    assert outbox.deliver("test:1").outcome == "skipped"
    message = smtp.wait_for("ann@example.com")
    assert len(smtp.messages) == 1
    assert message["Subject"] == "Your AI Pasta password was changed"
    assert message["From"] == "AI Pasta <no-reply@localhost>"
    assert message["Message-ID"] == Mail.objects.get().messageId
    assert "Hello Ann," in text_of(message) and "<p>Hello Ann,</p>" in html_of(message)
    mail = Mail.objects.get()
    assert (mail.status, mail.attempts, mail.text, mail.html) == ("sent", 1, None, None)
    assert mail.sentAt is not None


def test_many_concurrent_deliveries_send_once(smtp):
    queue()
    barrier = threading.Barrier(12)

    def race(_):
        barrier.wait()
        return outbox.deliver("test:1").outcome

    with ThreadPoolExecutor(12) as pool:
        outcomes = list(pool.map(race, range(12)))
    assert sorted(outcomes) == ["sent"] + ["skipped"] * 11
    time.sleep(0.3)  # anything sent late would have arrived by now
    assert len(smtp.to("ann@example.com")) == 1


def test_smtp_down_retries_with_backoff_then_delivers(smtp, settings_override):
    settings_override(
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_starttls=False,
        mail_retry_base_seconds=0.5,
        mail_retry_max_seconds=1,
    )
    queue()
    smtp.stop()
    first = outbox.deliver("test:1")
    assert (first.outcome, first.retry_in) == ("retry", 0.5)
    mail = Mail.objects.get()
    assert mail.status == "pending" and "ConnectionRefused" in mail.lastError
    early = outbox.deliver("test:1")  # not due yet: the caller is told when it is
    assert early.outcome == "early" and 0.3 < early.retry_in <= 0.55
    time.sleep(0.6)
    assert outbox.deliver("test:1") == outbox.Delivery("retry", 1.0)  # still down: waits double
    smtp.start()
    time.sleep(1.1)
    assert outbox.due_keys() == ["test:1"]
    assert outbox.deliver("test:1").outcome == "sent"
    assert len(smtp.to("ann@example.com")) == 1
    assert Mail.objects.get().attempts == 3


def test_a_mail_is_given_up_after_max_attempts(smtp, settings_override):
    settings_override(
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_starttls=False,
        mail_retry_base_seconds=0.01,
        mail_max_attempts=2,
    )
    queue()
    smtp.stop()
    assert outbox.deliver("test:1").outcome == "retry"
    time.sleep(0.05)
    assert outbox.deliver("test:1").outcome == "failed"
    mail = Mail.objects.get()
    assert (mail.status, mail.attempts) == ("failed", 2)
    assert mail.text  # kept, so an admin can send it again
    assert outbox.due_keys() == []


def test_a_refused_recipient_fails_at_once_and_admins_see_and_retry_it(smtp, client, admin):
    _, headers = admin
    smtp.refuse.add("gone@example.com")
    queue(to="gone@example.com")
    assert outbox.deliver("test:1").outcome == "failed"
    res = client.get("/api/admin/mail?status=failed", headers=headers)
    assert res.status_code == 200, res.get_json()
    rows = res.get_json()["data"]["mail"]
    assert [(r["key"], r["to"], r["status"], r["attempts"]) for r in rows] == [
        ("test:1", "gone@example.com", "failed", 1)
    ]
    assert "550" in rows[0]["lastError"] and "text" not in rows[0]
    smtp.refuse.clear()
    res = client.post(f"/api/admin/mail/{rows[0]['id']}/retry", headers=headers)
    assert res.status_code == 200 and res.get_json()["data"]["mail"]["status"] == "pending"
    assert outbox.deliver("test:1").outcome == "sent"
    assert len(smtp.to("gone@example.com")) == 1
    again = client.post(f"/api/admin/mail/{rows[0]['id']}/retry", headers=headers)
    assert again.status_code == 409


def test_admin_mail_list_needs_an_admin_and_a_known_status(client, make_user, admin):
    _, token = make_user()
    assert client.get("/api/admin/mail", headers=auth(token)).status_code == 403
    assert client.get("/api/admin/mail").status_code == 401
    res = client.get("/api/admin/mail?status=lost", headers=admin[1])
    assert (res.status_code, res.get_json()["code"]) == (400, "VALIDATION_ERROR")


def test_a_mail_whose_link_expired_is_not_sent(smtp):
    queue(discard_after=time.time() - 1)
    assert outbox.deliver("test:1").outcome == "expired"
    mail = Mail.objects.get()
    assert (mail.status, mail.text) == ("expired", None)
    assert smtp.messages == []


def test_without_smtp_host_mail_is_an_eml_file_and_its_links_are_logged(
    settings_override, tmp_path, caplog
):
    settings_override(smtp_host="", mail_dir=str(tmp_path))
    queue()
    with caplog.at_level("WARNING", logger="common.mail.transport"):
        assert outbox.deliver("test:1").outcome == "sent"
    files = list(tmp_path.glob("*.eml"))
    assert len(files) == 1 and "password_changed-ann@example.com" in files[0].name
    raw = files[0].read_text()
    assert "Subject: Your AI Pasta password was changed" in raw
    assert "http://localhost:5000/forgot-password" in caplog.text


@pytest.mark.parametrize("status", ["sent", "pending"])
def test_admin_list_filters_by_status(client, admin, smtp, status):
    queue("a:1")
    queue("a:2")
    outbox.deliver("a:1")
    res = client.get(f"/api/admin/mail?status={status}", headers=admin[1])
    keys = [r["key"] for r in res.get_json()["data"]["mail"] if r["key"].startswith("a:")]
    assert keys == (["a:1"] if status == "sent" else ["a:2"])
