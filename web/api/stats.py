"""Statistics routes under /api/v1 (CONTRACT.md, classification and statistics): the
leadership metrics of a period (`summary`), by department, street, cell, channel, type or
category (`breakdown`, ranked), over time (`trend`), and the tickets behind any figure
(`tickets`). The figures are `dispatch.stats.metrics` read from the rollups of
`dispatch.stats.rollups`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints
from sqlalchemy import select

from dispatch.core.commands import Strict
from dispatch.core.vocab import Channel, RequestType, Role
from dispatch.stats import metrics, rollups
from dispatch.stats.metrics import DateRange, Filters, Summary
from dispatch.stats.rollups import StatHead
from dispatch.tickets.lifecycle import Actor
from grid.models import Department
from web.api.base import ApiBlueprint, commit
from web.extensions import db
from web.services import services

bp = ApiBlueprint("stats", __name__)

READERS = (Role.LEADER, Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN)
# Changes a statistics request brings into the rollups itself before reading (the workers
# do the rest); a refresh already running elsewhere is not waited for.
CATCH_UP_ROUNDS = 4

DimCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
MetricName = Literal[tuple(metrics.METRICS)]  # type: ignore[valid-type]
TypeFilter = Literal[(*(t.value for t in RequestType), metrics.NONE)]  # type: ignore[valid-type]


class StatsQuery(Strict):
    """A period of local dates and optional filters (`none`: the dimension is not set)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)

    date_from: date | None = Field(
        None, alias="from", description="first local day (default: the 1st of `to`'s month)")
    date_to: date | None = Field(
        None, alias="to", description="last local day, included (default: today)")
    department: DimCode | None = Field(None, description="a department code, or `none`")
    street: DimCode | None = Field(None, description="a street code, or `none`")
    cell: DimCode | None = Field(None, description="a grid cell code, or `none`")
    channel: Channel | None = None
    type: TypeFilter | None = Field(None, description="a request type, or `none`")
    category: DimCode | None = Field(None, description="a category code (its subtree), or "
                                                       "`none`")


class BreakdownQuery(StatsQuery):
    by: Literal[metrics.BREAKDOWNS]  # type: ignore[valid-type]
    sort: MetricName = Field("intake", description="rank by this metric, highest first")


class TrendQuery(StatsQuery):
    every: Literal[metrics.EVERY] = "day"  # type: ignore[valid-type]


class TicketsQuery(StatsQuery):
    metric: MetricName
    part: Literal["numerator", "denominator"] = "numerator"
    page: int = Field(1, ge=1, le=100_000)
    per_page: int = Field(20, ge=1, le=metrics.MAX_PER_PAGE)


def period(query: StatsQuery) -> tuple[DateRange, Filters, datetime]:
    """The period, filters and moment of the figures: `to` defaults to today, `from` to the
    1st of `to`'s month (InvalidInput before anything is written)."""
    now = services().clock.now()
    end = query.date_to or metrics.local_day(now)
    start = query.date_from or end.replace(day=1)
    filters = Filters(channel=query.channel, type=query.type, category=query.category,
                      department=query.department, street=query.street, cell=query.cell)
    return DateRange(start, end), filters, now


def catch_up() -> int:
    """Take committed changes into the rollups; how many are still waiting."""
    return rollups.refresh(db.session, wait=False, max_rounds=CATCH_UP_ROUNDS).pending


def fresh_at(now: datetime, pending: int) -> datetime | None:
    """The moment the rollups were current: now when no committed change waits, else their
    last refresh (the dashboard says "截至 HH:MM:SS")."""
    if not pending:
        return now
    return db.session.scalar(select(StatHead.refreshed_at).where(StatHead.id == 1))


def _head(span: DateRange, filters: Filters, now: datetime, pending: int) -> dict[str, Any]:
    fresh = fresh_at(now, pending)
    return {"from": span.start.isoformat(), "to": span.end.isoformat(),
            "as_of": now.isoformat(), "filters": filters.given(), "pending": pending,
            "fresh_at": fresh.isoformat() if fresh is not None else None}


def _metrics(s: Summary) -> dict[str, Any]:
    return {name: fig.as_dict() for name, fig in s.figures.items()}


@bp.endpoint("/stats/summary", "GET",
          "The leadership metrics of a period (rates as fractions 0–1, with their counts)",
          query=StatsQuery, roles=READERS)
def stats_summary(actor: Actor, query: StatsQuery) -> dict[str, Any]:
    span, filters, now = period(query)
    pending = catch_up()
    result = metrics.summary(db.session, span, filters, now)
    commit()
    return {**_head(span, filters, now, pending), **_metrics(result)}


@bp.endpoint("/stats/breakdown", "GET",
          "The metrics by department, street, cell, channel, type or category, ranked",
          query=BreakdownQuery, roles=READERS)
def stats_breakdown(actor: Actor, query: BreakdownQuery) -> dict[str, Any]:
    span, filters, now = period(query)
    pending = catch_up()
    groups = department_kinds() if query.by == "department" else None
    rows = metrics.breakdown(db.session, span, filters, now, query.by, sort=query.sort,
                             groups=groups)
    commit()
    return {**_head(span, filters, now, pending), "by": query.by, "sort": query.sort,
            "min_volume": metrics.MIN_RANK_VOLUME,
            "items": [{"key": r.key, "rank": r.rank, "group": r.group, **_metrics(r)}
                      for r in rows]}


def department_kinds() -> dict[str, str]:
    """Department code → kind (functional, territorial): the rankings kept apart."""
    return dict(db.session.execute(select(Department.code, Department.kind)).tuples().all())


@bp.endpoint("/stats/trend", "GET", "The metrics for each day, week or month of a period",
          query=TrendQuery, roles=READERS)
def stats_trend(actor: Actor, query: TrendQuery) -> dict[str, Any]:
    span, filters, now = period(query)
    metrics.buckets(span, query.every)  # too many points: refused before anything is written
    pending = catch_up()
    points = metrics.trend(db.session, span, filters, now, query.every)
    commit()
    return {**_head(span, filters, now, pending), "every": query.every,
            "items": [{"from": p.span.start.isoformat(), "to": p.span.end.isoformat(),
                       **_metrics(p)} for p in points]}


@bp.endpoint("/stats/tickets", "GET",
          "The tickets behind a figure: the units of its numerator or denominator, paged",
          query=TicketsQuery, roles=READERS)
def stats_tickets(actor: Actor, query: TicketsQuery) -> dict[str, Any]:
    span, filters, now = period(query)
    metrics.drill_part(query.metric, query.part, query.page, query.per_page)
    pending = catch_up()
    page = metrics.drill_down(db.session, span, filters, now, query.metric, query.part,
                              page=query.page, per_page=query.per_page)
    commit()
    return {**_head(span, filters, now, pending), "metric": query.metric, "part": query.part,
            "total": page.total, "page": page.page, "per_page": page.per_page,
            "items": [item.as_dict() for item in page.items]}
