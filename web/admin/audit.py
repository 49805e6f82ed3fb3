"""`/api/admin/audit`: the log of admin writes."""

from __future__ import annotations

from common.audit import service
from web.admin.routes import bp
from web.admin.schemas import AuditQuery
from web.responses import ok
from web.security import admin_required
from web.validation import parse_query


@bp.get("/audit")
@admin_required
def audit_log():
    q = parse_query(AuditQuery)
    return ok(
        service.list_entries(
            q.page,
            q.limit,
            action=q.action,
            target_type=q.targetType,
            target_id=q.targetId,
            admin_id=q.adminId,
            day_from=q.from_,
            day_to=q.to,
        )
    )
