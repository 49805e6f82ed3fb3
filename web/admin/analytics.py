"""`/api/admin/analytics`: usage and revenue for a date range."""

from __future__ import annotations

from common.admin import analytics as service
from web.admin.routes import TAGS, bp
from web.admin.schemas import AnalyticsQuery
from web.openapi import ADMIN, operation
from web.responses import ok
from web.security import admin_required
from web.validation import parse_query


@bp.get("/analytics")
@admin_required
@operation(
    "Usage and revenue figures",
    tags=TAGS,
    auth=ADMIN,
    query=AnalyticsQuery,
    responses={200: None},
    description="400 also when `from` is after `to` or the range is longer than allowed.",
)
def analytics():
    q = parse_query(AnalyticsQuery)
    r = service.make_range(q.from_, q.to, q.granularity)
    return ok(service.report(r, q.top))
