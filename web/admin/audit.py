"""`/api/admin/audit`: the log of admin writes."""

from __future__ import annotations

from common.audit import service
from web.admin.routes import TAGS, bp
from web.admin.schemas import AuditQuery
from web.openapi import ADMIN, operation
from web.responses import ok
from web.security import admin_required
from web.validation import parse_query


@bp.get("/audit")
@admin_required
@operation(
    "The audit log (filters: action, target, admin, UTC days `from`..`to`)",
    tags=TAGS,
    auth=ADMIN,
    query=AuditQuery,
    responses={200: None},
    description="400 also when `from` is after `to`.",
)
def audit_log():
    return ok(service.list_entries(parse_query(AuditQuery).command()))
