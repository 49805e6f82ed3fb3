"""`/api/admin/analytics`: usage and revenue for a date range."""

from __future__ import annotations

import click

from common.admin import analytics as service
from common.admin import rollups
from web.admin.routes import bp
from web.admin.schemas import AnalyticsQuery
from web.responses import ok
from web.security import admin_required
from web.validation import parse_query


@bp.get("/analytics")
@admin_required
def analytics():
    q = parse_query(AnalyticsQuery)
    r = service.make_range(q.from_, q.to, q.granularity)
    return ok(service.report(r, q.top))


@bp.cli.command("analytics-rebuild")
def analytics_rebuild() -> None:
    """Forget the stored daily analytics figures; the next report recomputes them."""
    click.echo(f"Dropped {rollups.rebuild()} stored days; they are recomputed on demand.")
