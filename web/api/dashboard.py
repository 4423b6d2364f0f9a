"""The leaders' dashboard routes under /api/v1/stats (beside `web.api.stats`): the metric
definitions in Chinese, the emerging hotspots, the demand counts per grid area for the heat map,
and Excel exports of every table the dashboard shows (built by `dispatch.stats.export`, with the
period, the filters and the formulas on a sheet of their own, "口径").

The figures are `dispatch.stats.metrics` read from the rollups, exactly as the statistics API gives
them: an export holds the same rows and numbers as the page. The words are
`dispatch.stats.wording`'s."""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

from flask import send_file
from flask.typing import ResponseReturnValue
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.commands import Code, Strict
from dispatch.core.models import Category
from dispatch.stats import metrics, wording
from dispatch.stats.export import TABLES, ExportRequest, export_table
from dispatch.stats.hotspots import HotspotRules, find_hotspots
from dispatch.stats.metrics import NONE
from dispatch.stats.points import demand_points
from dispatch.stats.wording import NOT_SET, formula, part_words
from dispatch.tickets.lifecycle import Actor
from grid.models import Department
from grid.service import GridRouting
from web.api.base import ApiBlueprint, commit
from web.api.stats import CATCH_UP_ROUNDS, READERS, StatsQuery, catch_up, period
from web.extensions import db
from web.i18n import t
from web.services import services

bp = ApiBlueprint("dashboard", __name__)

# The words the definitions route gives (one table for the page and the exports).
FORMULAS, PARTS, UNITS = wording.FORMULAS, wording.PARTS, wording.UNITS

# ---------------------------------------------------------------- names of codes


class Names:
    """Chinese names of the dimension values (departments, categories, grid areas)."""

    def __init__(self, session: Session, now: datetime) -> None:
        rows_ = session.execute(select(Department.code, Department.name, Department.kind)).all()
        self.departments = {r.code: r.name for r in rows_}
        self.department_kinds = {r.code: r.kind for r in rows_}
        rows = session.execute(select(Category.code, Category.name, Category.parent_code)).all()
        by_code = {r.code: r for r in rows}
        self.categories: dict[str, str] = {}
        for r in rows:
            names, seen, node = [], set(), r
            while node is not None and node.code not in seen:
                seen.add(node.code)
                names.append(node.name)
                node = by_code.get(node.parent_code) if node.parent_code else None
            self.categories[r.code] = " > ".join(reversed(names))
        index = GridRouting(session, now, services().grid_cache).index
        self.index = index
        self.areas = {code: a.name for code, a in index.areas.items()} if index else {}

    def of(self, dim: str, code: str | None) -> str:
        """The name of a dimension value (`None`: not set)."""
        if code is None or code == NONE:
            return NOT_SET.get(dim, "未设置")
        if dim in ("channel", "type"):
            return t(dim, code)
        if dim == "department":
            return self.departments.get(code, code)
        if dim == "category":
            return self.categories.get(code, code)
        return self.areas.get(code, code)

    def groups(self, dim: str) -> dict[str, str] | None:
        """Departments are ranked by kind (bureaus apart from streets and towns)."""
        return self.department_kinds if dim == "department" else None

    def status(self, code: str) -> str:
        """The name of a ticket status."""
        return t("status", code)

    def area(self, code: str | None) -> str | None:
        """The name of a grid area (street, community, cell), or None when not set."""
        return self.areas.get(code, code) if code else None

    def parent(self, code: str) -> str | None:
        """The grid area above `code` (None: none, or no grid)."""
        if self.index is None or code not in self.index.areas:
            return None
        return self.index.areas[code].parent


# ---------------------------------------------------------------- definitions


@bp.endpoint("/stats/metrics", "GET",
          "The metrics' Chinese names and formulas, and what each count behind them counts",
          roles=READERS)
def stats_metrics(actor: Actor) -> dict[str, Any]:
    return {
        "items": [{"name": m.name, "label": m.label, "formula": formula(m.name),
                   "numerator": m.numerator, "denominator": m.denominator}
                  for m in metrics.METRICS.values()],
        "parts": {name: {"label": part_words(name)[0], "dated_by": part_words(name)[1],
                         "unit": str(part.unit), "unit_label": UNITS.get(str(part.unit), "")}
                  for name, part in metrics.PARTS.items()},
    }


# ---------------------------------------------------------------- hotspots


class HotspotQuery(Strict):
    """Optional narrowing and rules of the emerging-hotspot search (defaults: DOMAIN's
    未诉先办 rule, at least 5 similar demands within 500 m in the last 2 hours)."""

    category: Code | None = Field(None, description="a category code (its subtree)")
    street: Code | None = Field(None, description="a street code")
    min_count: int | None = Field(None, ge=2, le=1000, description="default 5")
    radius_m: int | None = Field(None, ge=10, le=20_000, description="default 500")
    window_minutes: int | None = Field(None, ge=5, le=31 * 24 * 60, description="default 120")


@bp.endpoint("/stats/hotspots", "GET",
          "Emerging hotspots now: places where similar demands cluster (未诉先办)",
          query=HotspotQuery, roles=READERS)
def stats_hotspots(actor: Actor, query: HotspotQuery) -> dict[str, Any]:
    now = services().clock.now()
    rules = HotspotRules()
    if query.min_count is not None:
        rules = replace(rules, min_count=query.min_count)
    if query.radius_m is not None:
        rules = replace(rules, radius_m=float(query.radius_m))
    if query.window_minutes is not None:
        rules = replace(rules, window=timedelta(minutes=query.window_minutes))
    found = find_hotspots(db.session, now, rules, category=query.category, street=query.street)
    names = Names(db.session, now)
    commit()
    items = []
    for h in found:
        item = h.as_dict()
        place = [names.area(h.street), names.area(h.community), names.area(h.cell)]
        item.update({
            "category_name": names.of("category", h.category),
            "street_name": place[0], "community_name": place[1], "cell_name": place[2],
            "place": " · ".join(p for p in place if p) or "无位置",
        })
        for ticket in item["tickets"]:
            ticket["category_name"] = names.of("category", ticket["category"])
        items.append(item)
    return {"as_of": now.isoformat(),
            "rules": {"min_count": rules.min_count, "radius_m": rules.radius_m,
                      "window_minutes": int(rules.window.total_seconds() // 60),
                      "category_level": rules.category_level},
            "filters": {k: v for k, v in (("category", query.category),
                                          ("street", query.street)) if v},
            "items": items}


# ---------------------------------------------------------------- heat


@bp.endpoint("/stats/heat", "GET",
          "Demand (intake) per grid cell, community and street for the heat map; the same "
          "counts as the breakdown by cell", query=StatsQuery, roles=READERS)
def stats_heat(actor: Actor, query: StatsQuery) -> dict[str, Any]:
    span, filters, now = period(query)
    pending = catch_up()
    rows = metrics.breakdown(db.session, span, filters, now, "cell")
    names = Names(db.session, now)
    commit()
    cells: list[dict[str, Any]] = []
    communities: dict[str, int] = defaultdict(int)
    streets: dict[str, int] = defaultdict(int)
    unplaced = total = 0
    for row in rows:
        count = row.figures["intake"].numerator
        if not count:
            continue
        total += count
        if row.key is None:
            unplaced += count
            continue
        community = names.parent(row.key)
        street = names.parent(community) if community else None
        cells.append({"code": row.key, "name": names.of("cell", row.key), "count": count,
                      "community": community, "street": street})
        if community:
            communities[community] += count
        if street:
            streets[street] += count
    cells.sort(key=lambda c: (-c["count"], c["code"]))

    def level(counts: dict[str, int]) -> list[dict[str, Any]]:
        return sorted(({"code": c, "name": names.area(c), "count": n}
                       for c, n in counts.items()), key=lambda c: (-c["count"], c["code"]))

    return {"from": span.start.isoformat(), "to": span.end.isoformat(),
            "as_of": now.isoformat(), "filters": filters.given(), "pending": pending,
            "grid_version": names.index.version if names.index else None,
            "total": total, "unplaced": unplaced,
            "cells": cells, "communities": level(communities), "streets": level(streets)}


@bp.endpoint("/stats/heat-points", "GET",
          "Demand points for the heat layer: the intake's placed tickets snapped to about "
          "100 m and counted per point", query=StatsQuery, roles=READERS)
def stats_heat_points(actor: Actor, query: StatsQuery) -> dict[str, Any]:
    span, filters, now = period(query)
    found = demand_points(db.session, span, filters)
    commit()
    return {"from": span.start.isoformat(), "to": span.end.isoformat(),
            "as_of": now.isoformat(), "filters": filters.given(), "total": found.total,
            "capped": found.capped,
            "points": [[lon, lat, n] for lon, lat, n in found.points]}


# ---------------------------------------------------------------- exports


class ExportQuery(StatsQuery):
    """Which table, with the parameters of its statistics route."""

    table: Literal[TABLES]  # type: ignore[valid-type]
    by: Literal[metrics.BREAKDOWNS] | None = Field(  # type: ignore[valid-type]
        None, description="breakdown: the dimension")
    sort: Literal[tuple(metrics.METRICS)] = Field(  # type: ignore[valid-type]
        "intake", description="breakdown: rank by this metric")
    every: Literal[metrics.EVERY] = Field(  # type: ignore[valid-type]
        "day", description="trend: the step")
    metric: Literal[tuple(metrics.METRICS)] | None = Field(  # type: ignore[valid-type]
        None, description="tickets: the figure")
    part: Literal["numerator", "denominator"] = Field(
        "numerator", description="tickets: its numerator's or its denominator's units")


@bp.endpoint("/stats/export.xlsx", "GET",
          "A dashboard table as an Excel file (summary, breakdown, trend or the tickets behind "
          "a figure), with the period, filters and formulas on the sheet 口径",
          query=ExportQuery, roles=READERS)
def stats_export(actor: Actor, query: ExportQuery) -> ResponseReturnValue:
    span, filters, now = period(query)
    request = ExportRequest(table=query.table, by=query.by, sort=query.sort, every=query.every,
                            metric=query.metric, part=query.part)
    made = export_table(db.session, span, filters, now, request, Names(db.session, now),
                        catch_up_rounds=CATCH_UP_ROUNDS)
    commit()
    response = send_file(io.BytesIO(made.content), mimetype=made.mimetype)
    # A Chinese name for today's browsers, a plain one for old clients (RFC 6266).
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{made.plain_filename}\"; "
        f"filename*=UTF-8''{quote(made.filename)}")
    return response, 200
