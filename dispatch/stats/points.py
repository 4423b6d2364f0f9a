"""The demand map's points: where the demands of a period came from, for the dashboard's heat
layer. The same tickets as the intake figure (created in the period, not void, the filters of
`dispatch.stats.metrics`), placed ones only, snapped to a grid of about 100 m and counted per
point, so that no single citizen's door is given and the answer stays small."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.models import Ticket
from dispatch.core.vocab import Status
from dispatch.stats.definitions import DateRange, Filters
from dispatch.stats.raw import dim_columns, latest_lead, within

DECIMALS = 3  # 0.001° ≈ 100 m (less east-west)
MAX_TICKETS = 50_000  # read at most this many tickets (the newest)


@dataclass(frozen=True)
class DemandPoints:
    """Demand counts per snapped point: (lon, lat, count), the most first; `capped`: more
    tickets than MAX_TICKETS, only the newest were read."""

    points: list[tuple[float, float, int]]
    total: int
    capped: bool


def demand_points(session: Session, span: DateRange, filters: Filters, *,
                  limit: int = MAX_TICKETS) -> DemandPoints:
    """The placed demands of the period and filters, snapped and counted."""
    t = Ticket
    rows = select(t.id.label("id"), t.created_at.label("at"), t.lon.label("lon"),
                  t.lat.label("lat"), *dim_columns(latest_lead(t.id))).where(
        within(t.created_at, span), t.status != Status.VOID, t.lon.is_not(None),
        t.lat.is_not(None)).subquery()
    stmt = (select(rows.c.lon, rows.c.lat).where(*filters.where(rows.c))
            .order_by(rows.c.at.desc(), rows.c.id.desc()).limit(limit + 1))
    found = session.execute(stmt).all()
    capped = len(found) > limit
    counts = Counter((round(float(lon), DECIMALS), round(float(lat), DECIMALS))
                     for lon, lat in found[:limit])
    points = sorted(((lon, lat, n) for (lon, lat), n in counts.items()),
                    key=lambda p: (-p[2], p[0], p[1]))
    return DemandPoints(points, sum(counts.values()), capped)
