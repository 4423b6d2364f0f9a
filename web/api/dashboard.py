"""The leaders' dashboard routes under /api/v1/stats (beside `web.api.stats`): the metric
definitions in Chinese, the emerging hotspots, the demand counts per grid area for the heat map,
and Excel exports of every table the dashboard shows, with the period, the filters and the
formulas on a sheet of their own ("口径").

The figures are `dispatch.stats.metrics` read from the rollups, exactly as the statistics API gives
them: an export holds the same rows and numbers as the page."""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

from flask import send_file
from flask.typing import ResponseReturnValue
from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.commands import Code, Strict
from dispatch.core.errors import InvalidInput
from dispatch.core.models import Category
from dispatch.stats import metrics, rollups
from dispatch.stats.hotspots import HotspotRules, find_hotspots
from dispatch.stats.metrics import NONE, DateRange, Filters, Summary
from dispatch.tickets.calendar import LOCAL_TZ
from dispatch.tickets.lifecycle import Actor
from grid.models import Department
from grid.service import GridRouting
from web.api.stats import CATCH_UP_ROUNDS, READERS, StatsQuery
from web.api.tickets import commit, endpoint
from web.extensions import db
from web.i18n import t
from web.services import services

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_MAX_ROWS = 10_000  # the most drill-down rows one export holds
TABLES = ("summary", "breakdown", "trend", "tickets")

# ---------------------------------------------------------------- the words (zh-CN)

# DOMAIN.md's formulas, as the "口径" sheet and the page's tooltips say them.
FORMULAS = {
    "intake": "统计期内受理的工单数（作废工单另计，不计入受理量）",
    "void": "统计期内受理、现已作废的工单数（骚扰、无声、测试电话）",
    "direct_answer_rate": "直接答复的工单数 ÷ 受理量",
    "on_time_sign_rate": "按时签收的派单数 ÷ 签收时限截止时间落在统计期内的派单数",
    "completion_rate": "统计期内派出的工单中已办结（含已审核、已归档）的工单数 ÷ "
                       "统计期内派出的工单数",
    "on_time_completion_rate": "按时办结的派单数 ÷（已办结 + 超过时限仍未办结的派单数）",
    "callback_rate": "已完成回访的工单数 ÷ 审核通过且需要回访的工单数",
    "satisfaction_rate": "（满意 + 基本满意）÷ 有答复的回访数",
    "resolution_rate": "已解决 ÷ 有答复的回访数",
    "repeat_rate": "并单或关联的重复诉求工单数 ÷ 受理量",
    "return_rate": "被退回的派单数 ÷ 派单数",
    "extension_rate": "获批延期的派单数 ÷ 派单数",
    "reopen_rate": "回访不满意或未解决而重办的工单数 ÷ 统计期内派出的工单数",
    "overdue_now": "当前有派单超过签收或办结时限的工单数（不限统计期）",
}
# What each count behind the figures counts, and by which moment it is dated.
PARTS = {
    "intake": ("受理工单", "受理时间"),
    "void": ("作废工单", "受理时间"),
    "direct_answer": ("直接答复的工单", "受理时间"),
    "repeat": ("重复诉求（并单）工单", "受理时间"),
    "dispatched": ("派出的工单", "首次派单时间"),
    "completed": ("已办结的工单", "首次派单时间"),
    "reopened": ("重办过的工单", "首次派单时间"),
    "dispatches": ("派单（主办、协办各计）", "派单时间"),
    "returned": ("被退回的派单", "派单时间"),
    "extended": ("获批延期的派单", "派单时间"),
    "sign_on_time": ("按时签收的派单", "签收截止时间"),
    "sign_due": ("签收时限已到的派单（按时 + 逾期）", "签收截止时间"),
    "complete_on_time": ("按时办结的派单", "办结截止时间"),
    "complete_due": ("办结时限已到的派单（按时 + 逾期）", "办结截止时间"),
    "callback_needed": ("需回访的审核通过", "审核时间"),
    "callback_done": ("已完成回访的审核通过", "审核时间"),
    "answered": ("有答复的回访", "回访时间"),
    "satisfied": ("满意或基本满意的回访", "回访时间"),
    "resolved": ("已解决的回访", "回访时间"),
    "overdue_now": ("当前超期的工单", "当前（不限统计期）"),
}
UNITS = {"ticket": "工单", "assignment": "派单", "review": "审核", "callback": "回访"}
DIMENSION_NAMES = {"channel": "渠道", "type": "诉求类型", "category": "事项分类",
                   "department": "承办部门", "street": "街道/乡镇", "cell": "网格"}
NOT_SET = {"channel": "未知渠道", "type": "未填类型", "category": "未分类",
           "department": "未派单", "street": "无位置", "cell": "无位置"}
TABLE_NAMES = {"summary": "指标汇总", "breakdown": "分组统计", "trend": "趋势",
               "tickets": "工单明细"}
EVERY_NAMES = {"day": "按日", "week": "按周（周一至周日）", "month": "按月"}
NOTES = (
    ("统计期间", "按北京时间（Asia/Shanghai）的自然日计，起止日期均含当日。"),
    ("计数日期", "每个分子、分母按其自身的时刻计入统计期：受理量等按受理时间，"
                 "办结率、重办率按首次派单时间，退单率、延期率按派单时间，"
                 "按时签收率、按时办结率按各自时限的截止时间，回访率按审核通过时间，"
                 "满意率、解决率按回访时间。"),
    ("按时率", "主办、协办各自计时、各计一条；办结时限以批准延期后的截止时间为准。"
               "超过截止时间才完成、超过截止时间后退单或关闭、或至今仍未完成且已过截止时间的，"
               "计为逾期；时限未到即退单或关闭、或尚未到期的，不计入。"),
    ("分组口径", "渠道、类型、事项分类、街道、网格按工单当前的值；部门按计数对象所属的部门："
                 "工单计其最新的主办部门，派单计其承办部门，审核与回访计当轮的主办部门。"
                 "未派出的工单无部门。"),
    ("筛选", "事项分类含其下级分类；“未设置”筛选该项为空的记录。"),
    ("比率", "分母为 0 时比率为空。比率为 0 至 1 的小数，表中按百分比显示。"),
)
SHEET_HEAD_FILL = PatternFill("solid", start_color="DDEBF7", end_color="DDEBF7")

# ---------------------------------------------------------------- names of codes


class Names:
    """Chinese names of the dimension values (departments, categories, grid areas)."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.departments = dict(session.execute(select(Department.code, Department.name)).all())
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

    def area(self, code: str | None) -> str | None:
        """The name of a grid area (street, community, cell), or None when not set."""
        return self.areas.get(code, code) if code else None

    def parent(self, code: str) -> str | None:
        """The grid area above `code` (None: none, or no grid)."""
        if self.index is None or code not in self.index.areas:
            return None
        return self.index.areas[code].parent


# ---------------------------------------------------------------- shared plumbing


def _period(query: StatsQuery) -> tuple[DateRange, Filters, datetime]:
    """As `web.api.stats`: `to` defaults to today, `from` to the 1st of `to`'s month."""
    now = services().clock.now()
    end = query.date_to or metrics.local_day(now)
    start = query.date_from or end.replace(day=1)
    filters = Filters(channel=query.channel, type=query.type, category=query.category,
                      department=query.department, street=query.street, cell=query.cell)
    return DateRange(start, end), filters, now


def _catch_up() -> int:
    return rollups.refresh(db.session, wait=False, max_rounds=CATCH_UP_ROUNDS).pending


def _given(filters: Filters) -> dict[str, str]:
    return {d: getattr(filters, d) for d in metrics.DIMENSIONS if getattr(filters, d)}


def _local(at: datetime) -> datetime:
    return at.astimezone(LOCAL_TZ).replace(tzinfo=None)  # Excel has no time zones


# ---------------------------------------------------------------- definitions


def _part(name: str) -> tuple[str, str]:
    """A count's Chinese name and dating (a part added to the metrics later shows its code)."""
    return PARTS.get(name) or (name, metrics.PARTS[name].dated_by)


def _formula(name: str) -> str:
    return FORMULAS.get(name) or metrics.METRICS[name].doc


@endpoint("/stats/metrics", "GET",
          "The metrics' Chinese names and formulas, and what each count behind them counts",
          roles=READERS)
def stats_metrics(actor: Actor) -> dict[str, Any]:
    return {
        "items": [{"name": m.name, "label": m.label, "formula": _formula(m.name),
                   "numerator": m.numerator, "denominator": m.denominator}
                  for m in metrics.METRICS.values()],
        "parts": {name: {"label": _part(name)[0], "dated_by": _part(name)[1],
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


@endpoint("/stats/hotspots", "GET",
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


@endpoint("/stats/heat", "GET",
          "Demand (intake) per grid cell, community and street for the heat map; the same "
          "counts as the breakdown by cell", query=StatsQuery, roles=READERS)
def stats_heat(actor: Actor, query: StatsQuery) -> dict[str, Any]:
    span, filters, now = _period(query)
    pending = _catch_up()
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
            "as_of": now.isoformat(), "filters": _given(filters), "pending": pending,
            "grid_version": names.index.version if names.index else None,
            "total": total, "unplaced": unplaced,
            "cells": cells, "communities": level(communities), "streets": level(streets)}


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


RATES = [m for m in metrics.METRICS.values() if m.denominator is not None]
COUNTS = [m for m in metrics.METRICS.values() if m.denominator is None]


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 6)  # as the API gives it


def _figure_cells(s: Summary, *, with_overdue: bool = True) -> list[Any]:
    out: list[Any] = []
    for m in COUNTS:
        if m.name == "overdue_now" and not with_overdue:
            continue
        out.append(s.figures[m.name].numerator)
    for m in RATES:
        fig = s.figures[m.name]
        out += [_rate(fig.rate), fig.numerator, fig.denominator]
    return out


def _figure_headers(*, with_overdue: bool = True) -> list[str]:
    heads = [m.label for m in COUNTS if with_overdue or m.name != "overdue_now"]
    for m in RATES:
        heads += [m.label, f"{m.label}·分子", f"{m.label}·分母"]
    return heads


def _write_table(ws: Worksheet, headers: list[str], rows: list[list[Any]],
                 widths: dict[int, int] | None = None, percent: set[int] | None = None) -> None:
    ws.append(headers)
    for cell in ws[1]:
        cell.font, cell.fill = Font(bold=True), SHEET_HEAD_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for row in rows:
        ws.append(row)
    for i in range(1, len(headers) + 1):
        ws.column_dimensions[get_column_letter(i)].width = (widths or {}).get(i, 12)
    for col in percent or ():
        for (cell,) in ws.iter_rows(min_row=2, min_col=col, max_col=col):
            cell.number_format = "0.00%"
    ws.freeze_panes = "A2"


def _percent_columns(first: int, *, with_overdue: bool = True) -> set[int]:
    """The rate columns of `_figure_cells` placed from column `first` on."""
    start = first + len(COUNTS) - (0 if with_overdue else 1)
    return {start + 3 * i for i in range(len(RATES))}


def _about(wb: Workbook, rows: list[tuple[str, Any]]) -> None:
    ws = wb.create_sheet("口径")
    _write_table(ws, ["项目", "内容"], [list(r) for r in rows], {1: 18, 2: 100})
    for (cell,) in ws.iter_rows(min_row=2, min_col=2, max_col=2):
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if isinstance(cell.value, datetime):
            cell.number_format = "yyyy-mm-dd hh:mm"
    ws.append([])
    head = ws.max_row + 1
    ws.append(["指标", "计算公式", "代码", "分子（计数对象，计入日期）",
               "分母（计数对象，计入日期）"])
    for cell in ws[head]:
        cell.font, cell.fill = Font(bold=True), SHEET_HEAD_FILL
    for m in metrics.METRICS.values():
        num = _part(m.numerator)
        den = _part(m.denominator) if m.denominator else None
        ws.append([m.label, _formula(m.name), m.name, f"{num[0]}（{num[1]}）",
                   f"{den[0]}（{den[1]}）" if den else ""])
    ws.column_dimensions["C"].width = 26
    ws.column_dimensions["D"].width = 36
    ws.column_dimensions["E"].width = 40
    ws.append([])
    for name, text in NOTES:
        ws.append([name, text])
    for row in ws.iter_rows(min_row=head + 1, min_col=2, max_col=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")


def _filters_text(filters: Filters, names: Names) -> str:
    parts = [f"{DIMENSION_NAMES[d]}：{names.of(d, v)}（{v}）" for d, v in _given(filters).items()]
    return "；".join(parts) or "无（全部）"


def _summary_sheet(ws: Worksheet, s: Summary) -> None:
    rows = []
    for m in metrics.METRICS.values():
        fig = s.figures[m.name]
        num = _part(m.numerator)[0]
        if m.denominator is None:
            rows.append([m.label, fig.numerator, fig.numerator, None, num, "", m.name])
        else:
            rows.append([m.label, _rate(fig.rate), fig.numerator, fig.denominator, num,
                         _part(m.denominator)[0], m.name])
    _write_table(ws, ["指标", "数值", "分子", "分母", "分子计数对象", "分母计数对象", "代码"], rows,
                 {1: 16, 2: 12, 3: 10, 4: 10, 5: 30, 6: 34, 7: 26})
    for i, m in enumerate(metrics.METRICS.values(), start=2):
        if m.denominator is not None:
            ws.cell(row=i, column=2).number_format = "0.00%"


def _breakdown_sheet(wb: Workbook, ws: Worksheet, rows: list[Summary], by: str, sort: str,
                     names: Names) -> None:
    headers = ["排名", DIMENSION_NAMES[by], "代码", *_figure_headers()]
    data = [[r.rank, names.of(by, r.key), r.key or NONE, *_figure_cells(r)] for r in rows]
    _write_table(ws, headers, data, {2: 28, 3: 26}, _percent_columns(4))
    if rows:
        chart = BarChart()
        chart.type = "bar"
        metric = metrics.METRICS[sort]
        chart.title = f"{DIMENSION_NAMES[by]} · {metric.label}"
        col = headers.index(metric.label) + 1
        shown = min(len(rows), 30)
        chart.add_data(Reference(ws, min_col=col, min_row=1, max_row=shown + 1),
                       titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=2, min_row=2, max_row=shown + 1))
        chart.y_axis.title = metric.label
        chart.height, chart.width = max(8, shown * 0.6), 18
        charts = wb.create_sheet("图表", 1)
        charts.add_chart(chart, "A1")


def _trend_sheet(wb: Workbook, ws: Worksheet, points: list[Summary], every: str) -> None:
    headers = ["起", "止", *_figure_headers(with_overdue=False)]
    data = [[p.span.start, p.span.end, *_figure_cells(p, with_overdue=False)] for p in points]
    _write_table(ws, headers, data, {1: 12, 2: 12}, _percent_columns(3, with_overdue=False))
    for row in ws.iter_rows(min_row=2, min_col=1, max_col=2):
        for cell in row:
            cell.number_format = "yyyy-mm-dd"
    if not points:
        return
    last = len(points) + 1
    charts = wb.create_sheet("图表", 1)
    volume = LineChart()
    volume.title = f"受理量（{EVERY_NAMES[every]}）"
    volume.add_data(Reference(ws, min_col=3, min_row=1, max_row=last), titles_from_data=True)
    volume.set_categories(Reference(ws, min_col=1, min_row=2, max_row=last))
    volume.height, volume.width = 8, 24
    charts.add_chart(volume, "A1")
    rates = LineChart()
    rates.title = f"主要比率（{EVERY_NAMES[every]}）"
    for name in ("completion_rate", "on_time_completion_rate", "satisfaction_rate"):
        col = headers.index(metrics.METRICS[name].label) + 1
        rates.add_data(Reference(ws, min_col=col, min_row=1, max_row=last),
                       titles_from_data=True)
    rates.set_categories(Reference(ws, min_col=1, min_row=2, max_row=last))
    rates.y_axis.number_format = "0%"
    rates.height, rates.width = 8, 24
    charts.add_chart(rates, "A18")


def _tickets_sheet(ws: Worksheet, items: list[metrics.DrillItem], names: Names) -> None:
    headers = ["序号", "工单编号", "当前状态", "计数对象", "计入日期", "渠道", "诉求类型",
               "事项分类", "承办部门", "街道/乡镇", "网格", "对象编号"]
    data = [[i, it.number, t("status", it.status), UNITS[str(it.unit)], it.day,
             *(names.of(d, getattr(it.dims, d) or None) for d in metrics.DIMENSIONS), it.ref]
            for i, it in enumerate(items, start=1)]
    _write_table(ws, headers, data, {1: 8, 2: 26, 5: 12, 8: 30, 9: 22, 10: 16, 11: 28})
    for (cell,) in ws.iter_rows(min_row=2, min_col=5, max_col=5):
        cell.number_format = "yyyy-mm-dd"


@endpoint("/stats/export.xlsx", "GET",
          "A dashboard table as an Excel file (summary, breakdown, trend or the tickets behind "
          "a figure), with the period, filters and formulas on the sheet 口径",
          query=ExportQuery, roles=READERS)
def stats_export(actor: Actor, query: ExportQuery) -> ResponseReturnValue:
    span, filters, now = _period(query)
    # Refusals first: nothing is written for a request that cannot be answered.
    if query.table == "breakdown" and query.by is None:
        raise InvalidInput("by: the dimension of a breakdown (one of "
                           f"{', '.join(metrics.BREAKDOWNS)})", field="by")
    if query.table == "trend":
        metrics.buckets(span, query.every)
    if query.table == "tickets":
        if query.metric is None:
            raise InvalidInput("metric: the figure whose tickets to list", field="metric")
        metrics.drill_part(query.metric, query.part)
    pending = _catch_up()
    names = Names(db.session, now)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = TABLE_NAMES[query.table]
    about: list[tuple[str, Any]] = [
        ("报表", TABLE_NAMES[query.table]),
        ("统计期间", f"{span.start.isoformat()} 至 {span.end.isoformat()}"
                     "（北京时间，起止日期均含当日）"),
        ("筛选条件", _filters_text(filters, names)),
    ]
    if query.table == "summary":
        _summary_sheet(ws, metrics.summary(db.session, span, filters, now))
    elif query.table == "breakdown":
        assert query.by is not None
        rows = metrics.breakdown(db.session, span, filters, now, query.by, sort=query.sort)
        _breakdown_sheet(wb, ws, rows, query.by, query.sort, names)
        about += [("分组", DIMENSION_NAMES[query.by]),
                  ("排序", f"按{metrics.METRICS[query.sort].label}由高到低（无分母的排在最后）")]
    elif query.table == "trend":
        points = metrics.trend(db.session, span, filters, now, query.every)
        _trend_sheet(wb, ws, points, query.every)
        about.append(("时间粒度", EVERY_NAMES[query.every]))
    else:
        assert query.metric is not None
        items: list[metrics.DrillItem] = []
        total, page = 0, 1
        while len(items) < EXPORT_MAX_ROWS:
            got = metrics.drill_down(db.session, span, filters, now, query.metric, query.part,
                                     page=page, per_page=metrics.MAX_PER_PAGE)
            total = got.total
            items += got.items
            if page * metrics.MAX_PER_PAGE >= total or not got.items:
                break
            page += 1
        items = items[:EXPORT_MAX_ROWS]
        _tickets_sheet(ws, items, names)
        metric = metrics.METRICS[query.metric]
        part = metric.numerator if query.part == "numerator" else metric.denominator
        assert part is not None
        about += [("指标", f"{metric.label}（{_formula(metric.name)}）"),
                  ("明细", f"{'分子' if query.part == 'numerator' else '分母'}：{_part(part)[0]}，"
                           f"按{_part(part)[1]}计入"),
                  ("行数", f"共 {total} 条" + (f"，本文件列出前 {EXPORT_MAX_ROWS} 条"
                                              if total > EXPORT_MAX_ROWS else ""))]
    about.append(("数据截至", _local(now)))
    if pending:
        about.append(("说明", f"尚有 {pending} 项最新变更未计入（稍后重新导出即可）"))
    _about(wb, about)
    period = f"{span.start.isoformat()}至{span.end.isoformat()}"
    wb.properties.title = f"{TABLE_NAMES[query.table]} {period}"
    wb.properties.creator = "12345热线工单派遣系统"
    commit()
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    # A Chinese name for today's browsers, a plain one for old clients (RFC 6266).
    plain = f"{query.table}_{span.start.isoformat()}_{span.end.isoformat()}.xlsx"
    name = quote(f"{TABLE_NAMES[query.table]}-{period}.xlsx")
    response = send_file(out, mimetype=XLSX)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{plain}\"; filename*=UTF-8''{name}")
    return response, 200
