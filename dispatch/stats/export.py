"""Excel exports of the dashboard's tables (summary, breakdown, trend, the tickets behind a
figure), with the period, the filters and the formulas on a sheet of their own ("口径").

The figures are `dispatch.stats.metrics` read from the rollups, exactly as the statistics API
gives them: an export holds the same rows and numbers as the page. The names of codes
(departments, categories, grid areas, channels, statuses) come from the caller (`Names`); the
words of the statistics from `dispatch.stats.wording`. `write_table` is the one writer of a
header row and its rows, shared with the periodic lists' workbooks and the audit's export
(`listing_file`)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy.orm import Session

from dispatch.core.errors import InvalidInput
from dispatch.stats import metrics
from dispatch.stats.definitions import DIMENSIONS, NONE, NUMERATOR, DateRange, Filters
from dispatch.stats.metrics import DrillItem, Summary
from dispatch.stats.rollups import refresh
from dispatch.stats.wording import (
    DIMENSION_NAMES,
    EVERY_NAMES,
    NOTES,
    TABLE_NAMES,
    UNITS,
    formula,
    part_words,
)
from dispatch.tickets.calendar import LOCAL_TZ

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_MAX_ROWS = 10_000  # the most drill-down rows one export holds
TABLES = ("summary", "breakdown", "trend", "tickets")
CREATOR = "12345热线工单派遣系统"
HEAD_FILL = PatternFill("solid", start_color="DDEBF7", end_color="DDEBF7")

RATES = [m for m in metrics.METRICS.values() if m.denominator is not None]
COUNTS = [m for m in metrics.METRICS.values() if m.denominator is None]


# The rankings' groups as a sheet names them (metrics.RANK_GROUPS).
GROUP_NAMES = {"functional": "职能部门", "territorial": "属地街镇"}


class Names(Protocol):
    """The Chinese names of codes, as the caller knows them."""

    def of(self, dim: str, code: str | None) -> str:
        """The name of a dimension value (`None`: not set)."""
        ...

    def status(self, code: str) -> str:
        """The name of a ticket status."""
        ...

    def groups(self, dim: str) -> Mapping[str, str] | None:
        """The separate rankings of a dimension's values (departments: code → kind)."""
        ...


@dataclass(frozen=True)
class ExportRequest:
    """Which table, with the parameters of its statistics route."""

    table: str
    by: str | None = None  # breakdown: the dimension
    sort: str = "intake"  # breakdown: rank by this metric
    every: str = "day"  # trend: the step
    metric: str | None = None  # tickets: the figure
    part: str = NUMERATOR  # tickets: its numerator's or its denominator's units


@dataclass(frozen=True)
class ExportFile:
    """A finished workbook and its names (Chinese, and plain for old clients)."""

    content: bytes
    filename: str
    plain_filename: str
    mimetype: str = XLSX


# ---------------------------------------------------------------- writing sheets


def write_table(ws: Worksheet, headers: Sequence[str], rows: Sequence[Sequence[Any]],
                widths: Mapping[int, int] | Sequence[int] | None = None,
                percent: set[int] | None = None) -> None:
    """A bold header row and the rows below it, frozen under the header; column widths by
    1-based column (12 where not given), the `percent` columns as 0.00 %, times as
    yyyy-mm-dd hh:mm."""
    ws.append(list(headers))
    for cell in ws[1]:
        cell.font, cell.fill = Font(bold=True), HEAD_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for row in rows:
        ws.append(list(row))
    given = dict(enumerate(widths, start=1)) if isinstance(widths, Sequence) else widths or {}
    for i in range(1, len(headers) + 1):
        ws.column_dimensions[get_column_letter(i)].width = given.get(i, 12)
        for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
            if isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
    for col in percent or ():
        for (cell,) in ws.iter_rows(min_row=2, min_col=col, max_col=col):
            cell.number_format = "0.00%"
    ws.freeze_panes = "A2"


class Listing(Protocol):
    """A list exported as one table (the audit's): its sheet name, columns and rows, the notes
    of its sheet 说明, and the file's names (Chinese, and plain for old clients)."""

    @property
    def title(self) -> str: ...
    @property
    def headers(self) -> list[str]: ...
    @property
    def widths(self) -> list[int]: ...
    @property
    def rows(self) -> list[list[Any]]: ...
    @property
    def notes(self) -> list[tuple[str, Any]]: ...
    @property
    def filename(self) -> str: ...
    @property
    def plain_filename(self) -> str: ...


def listing_file(listing: Listing) -> ExportFile:
    """A list as an Excel file: its table (`write_table`, long texts wrapped) on the first
    sheet and its notes on the sheet 说明."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = listing.title
    write_table(ws, listing.headers, listing.rows, listing.widths)
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    write_table(wb.create_sheet("说明"), ["项目", "内容"], [list(n) for n in listing.notes],
                {1: 12, 2: 100})
    wb.properties.title = listing.filename.removesuffix(".xlsx")
    wb.properties.creator = CREATOR
    out = io.BytesIO()
    wb.save(out)
    return ExportFile(out.getvalue(), filename=listing.filename,
                      plain_filename=listing.plain_filename)


def local_time(at: datetime) -> datetime:
    """A moment as the local wall-clock time (Excel has no time zones)."""
    return at.astimezone(LOCAL_TZ).replace(tzinfo=None)


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


def _percent_columns(first: int, *, with_overdue: bool = True) -> set[int]:
    """The rate columns of `_figure_cells` placed from column `first` on."""
    start = first + len(COUNTS) - (0 if with_overdue else 1)
    return {start + 3 * i for i in range(len(RATES))}


def _about(wb: Workbook, rows: list[tuple[str, Any]]) -> None:
    ws = wb.create_sheet("口径")
    write_table(ws, ["项目", "内容"], [list(r) for r in rows], {1: 18, 2: 100})
    for (cell,) in ws.iter_rows(min_row=2, min_col=2, max_col=2):
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.append([])
    head = ws.max_row + 1
    ws.append(["指标", "计算公式", "代码", "分子（计数对象，计入日期）",
               "分母（计数对象，计入日期）"])
    for cell in ws[head]:
        cell.font, cell.fill = Font(bold=True), HEAD_FILL
    for m in metrics.METRICS.values():
        num = part_words(m.numerator)
        den = part_words(m.denominator) if m.denominator else None
        ws.append([m.label, formula(m.name), m.name, f"{num[0]}（{num[1]}）",
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
    parts = [f"{DIMENSION_NAMES[d]}：{names.of(d, v)}（{v}）"
             for d, v in filters.given().items()]
    return "；".join(parts) or "无（全部）"


def _summary_sheet(ws: Worksheet, s: Summary) -> None:
    rows = []
    for m in metrics.METRICS.values():
        fig = s.figures[m.name]
        num = part_words(m.numerator)[0]
        if m.denominator is None:
            rows.append([m.label, fig.numerator, fig.numerator, None, num, "", m.name])
        else:
            rows.append([m.label, _rate(fig.rate), fig.numerator, fig.denominator, num,
                         part_words(m.denominator)[0], m.name])
    write_table(ws, ["指标", "数值", "分子", "分母", "分子计数对象", "分母计数对象", "代码"], rows,
                {1: 16, 2: 12, 3: 10, 4: 10, 5: 30, 6: 34, 7: 26})
    for i, m in enumerate(metrics.METRICS.values(), start=2):
        if m.denominator is not None:
            ws.cell(row=i, column=2).number_format = "0.00%"


def _breakdown_sheet(wb: Workbook, ws: Worksheet, rows: list[Summary], by: str, sort: str,
                     names: Names) -> None:
    headers = ["排名组", "排名", DIMENSION_NAMES[by], "代码", *_figure_headers()]
    data = [[GROUP_NAMES.get(r.group or "", "—"), r.rank if r.rank is not None else "不排名",
             names.of(by, r.key), r.key or NONE, *_figure_cells(r)] for r in rows]
    write_table(ws, headers, data, {1: 12, 3: 28, 4: 26}, _percent_columns(5))
    if rows:
        chart = BarChart()
        chart.type = "bar"
        metric = metrics.METRICS[sort]
        chart.title = f"{DIMENSION_NAMES[by]} · {metric.label}"
        col = headers.index(metric.label) + 1
        shown = min(len(rows), 30)
        chart.add_data(Reference(ws, min_col=col, min_row=1, max_row=shown + 1),
                       titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=3, min_row=2, max_row=shown + 1))
        chart.y_axis.title = metric.label
        chart.height, chart.width = max(8, shown * 0.6), 18
        charts = wb.create_sheet("图表", 1)
        charts.add_chart(chart, "A1")


def _trend_sheet(wb: Workbook, ws: Worksheet, points: list[Summary], every: str) -> None:
    headers = ["起", "止", *_figure_headers(with_overdue=False)]
    data = [[p.span.start, p.span.end, *_figure_cells(p, with_overdue=False)] for p in points]
    write_table(ws, headers, data, {1: 12, 2: 12}, _percent_columns(3, with_overdue=False))
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


def _tickets_sheet(ws: Worksheet, items: list[DrillItem], names: Names) -> None:
    headers = ["序号", "工单编号", "当前状态", "计数对象", "计入日期", "渠道", "诉求类型",
               "事项分类", "承办部门", "街道/乡镇", "网格", "对象编号"]
    data = [[i, it.number, names.status(it.status), UNITS[str(it.unit)], it.day,
             *(names.of(d, getattr(it.dims, d) or None) for d in DIMENSIONS), it.ref]
            for i, it in enumerate(items, start=1)]
    write_table(ws, headers, data, {1: 8, 2: 26, 5: 12, 8: 30, 9: 22, 10: 16, 11: 28})
    for (cell,) in ws.iter_rows(min_row=2, min_col=5, max_col=5):
        cell.number_format = "yyyy-mm-dd"


# ---------------------------------------------------------------- the export


def check_export(span: DateRange, request: ExportRequest) -> None:
    """Refuse a request that cannot be answered (InvalidInput, before anything is written)."""
    if request.table not in TABLES:
        raise InvalidInput(f"table: 须为以下之一：{'、'.join(TABLES)}", field="table")
    if request.table == "breakdown" and request.by is None:
        raise InvalidInput("by: 分组导出须指明分组维度（以下之一："
                           f"{'、'.join(metrics.BREAKDOWNS)}）", field="by")
    if request.table == "trend":
        metrics.buckets(span, request.every)
    if request.table == "tickets":
        if request.metric is None:
            raise InvalidInput("metric: 须指明要列出哪项指标的工单", field="metric")
        metrics.drill_part(request.metric, request.part)


def _drilled(session: Session, span: DateRange, filters: Filters, now: datetime,
             metric: str, part: str) -> tuple[list[DrillItem], int]:
    """The first EXPORT_MAX_ROWS units behind a figure, and how many there are."""
    items: list[DrillItem] = []
    total, page = 0, 1
    while len(items) < EXPORT_MAX_ROWS:
        got = metrics.drill_down(session, span, filters, now, metric, part, page=page,
                                 per_page=metrics.MAX_PER_PAGE)
        total = got.total
        items += got.items
        if page * metrics.MAX_PER_PAGE >= total or not got.items:
            break
        page += 1
    return items[:EXPORT_MAX_ROWS], total


def export_table(session: Session, span: DateRange, filters: Filters, now: datetime,
                 request: ExportRequest, names: Names, *, catch_up_rounds: int) -> ExportFile:
    """A dashboard table as an Excel file: refused (InvalidInput) before anything is written
    when it cannot be answered; else the rollups take up to `catch_up_rounds` rounds of
    committed changes first (a refresh running elsewhere is not waited for)."""
    check_export(span, request)
    pending = refresh(session, wait=False, max_rounds=catch_up_rounds).pending
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = TABLE_NAMES[request.table]
    about: list[tuple[str, Any]] = [
        ("报表", TABLE_NAMES[request.table]),
        ("统计期间", f"{span.start.isoformat()} 至 {span.end.isoformat()}"
                     "（北京时间，起止日期均含当日）"),
        ("筛选条件", _filters_text(filters, names)),
    ]
    if request.table == "summary":
        _summary_sheet(ws, metrics.summary(session, span, filters, now))
    elif request.table == "breakdown":
        assert request.by is not None
        rows = metrics.breakdown(session, span, filters, now, request.by, sort=request.sort,
                                 groups=names.groups(request.by))
        _breakdown_sheet(wb, ws, rows, request.by, request.sort, names)
        about += [("分组", DIMENSION_NAMES[request.by]),
                  ("排序", f"按{metrics.METRICS[request.sort].label}由高到低（无分母的排在最后）"),
                  ("排名规则", f"不足 {metrics.MIN_RANK_VOLUME} 件的只列出、不排名；"
                               "职能部门与属地街镇分别排名；未派单不是部门，不排名")]
    elif request.table == "trend":
        points = metrics.trend(session, span, filters, now, request.every)
        _trend_sheet(wb, ws, points, request.every)
        about.append(("时间粒度", EVERY_NAMES[request.every]))
    else:
        assert request.metric is not None
        items, total = _drilled(session, span, filters, now, request.metric, request.part)
        _tickets_sheet(ws, items, names)
        metric = metrics.METRICS[request.metric]
        part = metric.numerator if request.part == NUMERATOR else metric.denominator
        assert part is not None
        about += [("指标", f"{metric.label}（{formula(metric.name)}）"),
                  ("明细", f"{'分子' if request.part == NUMERATOR else '分母'}："
                           f"{part_words(part)[0]}，按{part_words(part)[1]}计入"),
                  ("行数", f"共 {total} 条" + (f"，本文件列出前 {EXPORT_MAX_ROWS} 条"
                                              if total > EXPORT_MAX_ROWS else ""))]
    about.append(("数据截至", local_time(now)))
    if pending:
        about.append(("说明", f"尚有 {pending} 项最新变更未计入（稍后重新导出即可）"))
    _about(wb, about)
    period = f"{span.start.isoformat()}至{span.end.isoformat()}"
    wb.properties.title = f"{TABLE_NAMES[request.table]} {period}"
    wb.properties.creator = CREATOR
    out = io.BytesIO()
    wb.save(out)
    return ExportFile(
        out.getvalue(),
        filename=f"{TABLE_NAMES[request.table]}-{period}.xlsx",
        plain_filename=f"{request.table}_{span.start.isoformat()}_{span.end.isoformat()}.xlsx",
    )


__all__ = ["ExportRequest", "ExportFile", "Names", "TABLES", "XLSX", "EXPORT_MAX_ROWS",
           "export_table", "check_export", "write_table", "local_time", "Listing",
           "listing_file"]
