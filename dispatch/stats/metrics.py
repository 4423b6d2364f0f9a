"""The leadership metrics' entry points: the one place the dashboard, the API, the exports and the
reports get figures from (`summary`, `breakdown`, `trend`, `drill_down`).

What each figure counts is `dispatch.stats.definitions` (its docstring holds the decisions
DOMAIN.md leaves open); figures come from the daily rollups of `dispatch.stats.rollups` by
default, and `source=RAW` computes them again from the raw tables (`dispatch.stats.raw`). The
two must agree for any period, filter and grouping (tests/service/test_rollups.py). The
definitions' names are re-exported here, so that a caller needs this one module.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from dispatch.core.errors import InvalidInput
from dispatch.stats.definitions import (
    DENOMINATOR,
    DIMENSIONS,
    MAX_BUCKETS,
    MAX_DAYS,
    MAX_PER_PAGE,
    METRICS,
    NONE,
    NUMERATOR,
    PARTS,
    DateRange,
    Dims,
    DrillItem,
    DrillPage,
    Figure,
    Filters,
    Metric,
    Part,
    Source,
    Tally,
    Unit,
    category_key,
    category_level,
    empty_tally,
    figures,
    local_day,
    shown,
)
from dispatch.stats.raw import RAW
from dispatch.stats.rollups import ROLLUPS


def _default_source() -> Source:
    return ROLLUPS


@dataclass(frozen=True)
class Summary:
    """The figures of one period (or one breakdown row, or one trend point)."""

    span: DateRange
    filters: Filters
    tally: Tally
    figures: dict[str, Figure]
    key: str | None = None  # the breakdown value (None: not set)
    rank: int | None = None


def summary(session: Session, span: DateRange, filters: Filters, now: datetime, *,
            source: Source | None = None) -> Summary:
    """Every metric of DOMAIN.md for a period and filters, as the dashboard shows it."""
    src = source or _default_source()
    tally = src.tally(session, span, filters, now, None).get(None, empty_tally())
    return Summary(span, filters, tally, figures(tally))


BREAKDOWNS = ("department", "street", "cell", "channel", "type", "category")


def _sort_value(s: Summary, metric: str) -> tuple[int, float]:
    fig = s.figures[metric]
    value = fig.rate if fig.denominator is not None else fig.numerator
    return (0, -value) if value is not None else (1, 0.0)


def breakdown(session: Session, span: DateRange, filters: Filters, now: datetime, by: str, *,
              sort: str = "intake", source: Source | None = None) -> list[Summary]:
    """The metrics by department, street, cell, channel, type or category (one level below
    the category filtered on), ranked by `sort` (highest first; rates with no base last)."""
    if by not in BREAKDOWNS:
        raise InvalidInput(f"by: 须为以下之一：{'、'.join(BREAKDOWNS)}", field="by")
    if sort not in METRICS:
        raise InvalidInput(f"sort: 须为以下之一：{'、'.join(METRICS)}", field="sort")
    src = source or _default_source()
    groups = src.tally(session, span, filters, now, by)
    if by == "category":
        level = category_level(filters)
        folded: dict[Any, Tally] = defaultdict(empty_tally)
        for key, tally in groups.items():
            target = folded[category_key(key, level)]
            for part, n in tally.items():
                target[part] += n
        groups = dict(folded)
    rows = [Summary(span, filters, t, figures(t), key=shown(k)) for k, t in groups.items()]
    rows.sort(key=lambda s: (_sort_value(s, sort), s.key or ""))
    return [replace(s, rank=i) for i, s in enumerate(rows, start=1)]


EVERY = ("day", "week", "month")


def buckets(span: DateRange, every: str) -> list[DateRange]:
    """The period cut into days, weeks (Monday to Sunday) or months, clipped to it."""
    if every not in EVERY:
        raise InvalidInput(f"every: 须为以下之一：{'、'.join(EVERY)}", field="every")
    out: list[DateRange] = []
    start = span.start
    while start <= span.end:
        if every == "day":
            end = start
        elif every == "week":
            end = start + timedelta(days=6 - start.weekday())
        else:
            following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
            end = following - timedelta(days=1)
        end = min(end, span.end)
        out.append(DateRange(start, end))
        start = end + timedelta(days=1)
        if len(out) > MAX_BUCKETS:
            raise InvalidInput(f"every: 趋势最多 {MAX_BUCKETS} 个点；请选更长的间隔或更短的"
                               "期间", field="every")
    return out


def trend(session: Session, span: DateRange, filters: Filters, now: datetime, every: str, *,
          source: Source | None = None) -> list[Summary]:
    """The metrics for each day, week or month of the period (no overdue_now)."""
    parts = buckets(span, every)
    src = source or _default_source()
    by_day = src.tally(session, span, filters, now, "day")
    out = []
    for bucket in parts:
        tally = empty_tally()
        for day, day_tally in by_day.items():
            if day in bucket:
                for part, n in day_tally.items():
                    tally[part] += n
        tally.pop("overdue_now", None)
        out.append(Summary(bucket, filters, tally, figures(tally, with_overdue=False)))
    return out


def drill_down(session: Session, span: DateRange, filters: Filters, now: datetime,
               metric: str, part: str = NUMERATOR, *, page: int = 1,
               per_page: int = 20, source: Source | None = None) -> DrillPage:
    """The units behind a figure: its numerator's or its denominator's, a page at a time."""
    name = drill_part(metric, part, page, per_page)
    return (source or _default_source()).units(session, span, filters, now, name, page,
                                               per_page)


def drill_part(metric: str, part: str, page: int = 1, per_page: int = 20) -> str:
    """The part a drill-down lists (InvalidInput for an unknown metric, part or page)."""
    m = METRICS.get(metric)
    if m is None:
        raise InvalidInput(f"metric: 须为以下之一：{'、'.join(METRICS)}", field="metric")
    if part not in (NUMERATOR, DENOMINATOR) or (part == DENOMINATOR and m.denominator is None):
        allowed = NUMERATOR if m.denominator is None else f"{NUMERATOR} 或 {DENOMINATOR}"
        raise InvalidInput(f"part: 指标 {metric} 只能取 {allowed}", field="part")
    if page < 1:
        raise InvalidInput("page: 至少为 1", field="page")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput(f"per_page: 须在 1 到 {MAX_PER_PAGE} 之间", field="per_page")
    name = m.numerator if part == NUMERATOR else m.denominator
    assert name is not None
    return name


__all__ = ["METRICS", "PARTS", "NONE", "DIMENSIONS", "MAX_DAYS", "MAX_PER_PAGE", "DateRange",
           "Filters", "Dims", "Figure", "Metric", "Part", "Unit", "Summary", "DrillItem",
           "DrillPage", "Source", "RAW", "ROLLUPS", "BREAKDOWNS", "EVERY", "summary",
           "breakdown", "trend", "drill_down", "drill_part", "buckets", "figures",
           "empty_tally", "local_day"]
