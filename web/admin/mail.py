"""`/api/admin/mail`: the outbox as admins see it (no bodies), and retrying a failed mail."""

from __future__ import annotations

from common.audit import service as audit
from common.mail import outbox
from web.admin.routes import actor, bp
from web.admin.schemas import MailList, MailQuery, MailRow
from web.mail import deliver_soon
from web.openapi import operation
from web.responses import ok
from web.security import admin_required
from web.validation import parse_query

TAGS = ("Admin",)


@bp.get("/mail")
@admin_required
@operation(
    "The mail outbox, newest first (`?status=failed`: mail given up on)",
    description="Each mail's kind, recipient, subject, status (pending, sending, sent, failed, "
    "expired), tries and last error; never its body.",
    tags=TAGS,
    query=MailQuery,
    responses={200: MailList},
    errors=(400, 401, 403),
)
def list_mail():
    q = parse_query(MailQuery)
    rows, total = outbox.list_mail(q.status, q.page, q.limit)
    return ok({"mail": rows, "total": total, "page": q.page, "limit": q.limit})


@bp.post("/mail/<mail_id>/retry")
@admin_required
@operation(
    "Send a failed mail again (audited)",
    tags=TAGS,
    responses={200: MailRow},
    errors=(401, 403, 404, 409),
)
def retry_mail(mail_id: str):
    row = outbox.retry(mail_id)
    audit.record(actor(), "mail.retry", "mail", row["id"], {"status": "failed"}, row)
    deliver_soon(row["key"])
    return ok({"mail": row}, message="The mail is queued again")
