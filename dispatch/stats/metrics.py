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
from collections.abc import Mapping
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
    rank: int | None = None  # None: listed, not ranked (too few, or no department/place)
    group: str | None = None  # the ranking it belongs to (a department's kind)


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


# A row is ranked only on at least this volume (DOMAIN.md's assessment: fewer than 5 →
# listed, not ranked): the base of the rate sorted on, or the count itself.
MIN_RANK_VOLUME = 5
# The breakdowns that are league tables (who does better), with the rules of `rank`.
RANKINGS = ("department", "street", "cell")
# The kinds of department ranked apart (bureaus, then streets and towns: DOMAIN.md).
RANK_GROUPS = ("functional", "territorial")


def volume(s: Summary, metric: str) -> int:
    """What a row's place in a ranking by `metric` rests on: the rate's base, or the count."""
    fig = s.figures[metric]
    return fig.denominator if fig.denominator is not None else fig.numerator


def rank(rows: list[Summary], sort: str, groups: Mapping[str, str] | None = None, *,
         min_volume: int = MIN_RANK_VOLUME) -> list[Summary]:
    """Number `rows` (already in `sort`'s order) within each group (`groups`: key → group, for
    departments their kind; a key without a group is ranked with the ungrouped): rows below
    `min_volume` and the row of no value (未派单, 无位置: not a department, not a place) are
    listed, not ranked, after the ranked ones of their group. Groups in RANK_GROUPS' order."""
    def group_of(s: Summary) -> str | None:
        return (groups or {}).get(s.key or "") if s.key not in (None, NONE) else None

    order = {g: i for i, g in enumerate(RANK_GROUPS)}
    out: list[Summary] = []
    keyed = sorted(((group_of(s), s) for s in rows if s.key not in (None, NONE)),
                   key=lambda gs: order.get(gs[0] or "", len(order)))
    names = list(dict.fromkeys(g for g, _ in keyed))
    for name in names:
        members = [s for g, s in keyed if g == name]
        ranked = [s for s in members if volume(s, sort) >= min_volume]
        listed = [s for s in members if volume(s, sort) < min_volume]
        out += [replace(s, rank=i, group=name) for i, s in enumerate(ranked, start=1)]
        out += [replace(s, rank=None, group=name) for s in listed]
    out += [replace(s, rank=None, group=None) for s in rows if s.key in (None, NONE)]
    return out


def breakdown(session: Session, span: DateRange, filters: Filters, now: datetime, by: str, *,
              sort: str = "intake", source: Source | None = None,
              groups: Mapping[str, str] | None = None) -> list[Summary]:
    """The metrics by department, street, cell, channel, type or category (one level below
    the category filtered on), ordered by `sort` (highest first; rates with no base last);
    departments, streets and cells ranked as `rank` says (within `groups`: departments by kind;
    on a minimum volume; the row of no value listed last, not ranked), the others numbered."""
    if by not in BREAKDOWNS:
        raise InvalidInput(f"by: 须为以下之一：{'、'.join(BREAKDOWNS)}", field="by")
    if sort not in METRICS:
        raise InvalidInput(f"sort: 须为以下之一：{'、'.join(METRICS)}", field="sort")
    src = source or _default_source()
    tallies = src.tally(session, span, filters, now, by)
    if by == "category":
        level = category_level(filters)
        folded: dict[Any, Tally] = defaultdict(empty_tally)
        for key, tally in tallies.items():
            target = folded[category_key(key, level)]
            for part, n in tally.items():
                target[part] += n
        tallies = dict(folded)
    rows = [Summary(span, filters, t, figures(t), key=shown(k)) for k, t in tallies.items()]
    rows.sort(key=lambda s: (_sort_value(s, sort), s.key or ""))
    if by not in RANKINGS:  # channels, types, categories: their order is all there is
        return [replace(s, rank=i) for i, s in enumerate(rows, start=1)]
    return rank(rows, sort, groups)


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
