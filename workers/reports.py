"""Periodic lists as Excel files (周巡检, 月点评, 季通报): rendering, storage under
`<INSTANCE_PATH>/reports/<kind>-<start>.xlsx`, and the entry points for the scheduler and the
CLI. The lists themselves are built by `dispatch.stats.reports`; `web.api.reports` serves the
files."""

from __future__ import annotations

import os
import re
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy.orm import Session

from dispatch.core.errors import NotFound
from dispatch.core.vocab import Status
from dispatch.stats.export import write_table
from dispatch.stats.reports import (
    Clock,
    Ending,
    Period,
    PeriodicList,
    PeriodKind,
    build_list,
    due_kinds,
    period_for,
    period_starting,
)
from dispatch.tickets.calendar import LOCAL_TZ
from grid.directory import SqlDirectory

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_NAME = re.compile(r"^(week|month|quarter)-(\d{4}-\d{2}-\d{2})\.xlsx$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# The one table of Chinese words the files use.
KIND_NAMES = {PeriodKind.WEEK: "周巡检", PeriodKind.MONTH: "月点评", PeriodKind.QUARTER: "季通报"}
STATUS_NAMES = {
    Status.NEW: "待派单", Status.DISPATCHED: "已派单", Status.SIGNED: "已签收",
    Status.RETURNED: "已退单", Status.COMPLETED: "已办结", Status.REVIEWED: "已审核",
    Status.REOPENED: "重办", Status.ARCHIVED: "已归档", Status.TRANSFERRED_110: "已转110",
    Status.MERGED: "已并单", Status.VOID: "已作废",
}
CLOCK_NAMES = {Clock.SIGN: "签收超期", Clock.COMPLETE: "办结超期"}
ENDING_NAMES = {Ending.LATE: "逾期完成", Ending.RETURNED: "逾期后退单",
                Ending.CLOSED: "逾期后关闭", Ending.OPEN: "仍未完成"}
ROLE_NAMES = {"lead": "主办", "co": "协办"}
SATISFACTION_NAMES = {"satisfied": "满意", "basically_satisfied": "基本满意",
                      "dissatisfied": "不满意"}
DEFINITIONS = (
    ("统计周期", "按北京时间（Asia/Shanghai）计，起止日期均含当日。"
                 "周巡检为上一自然周（周一至周日），月点评为上一自然月，季通报为上一自然季度。"),
    ("超期工单", "签收或办结时限的截止时间落在统计周期内、且未按时签收或办结的派单："
                 "超过截止时间后才签收或办结，超过截止时间后才退单或关闭，"
                 "或至生成时仍未签收或办结。主办、协办各自计时，各计一条。"
                 "办结时限以批准延期后的截止时间为准。"),
    ("超期小时", "自截止时间至签收、办结、退单或关闭时（仍未完成的至生成时）的日历小时数。"),
    ("超期工作日", "截止时间所在日之后、至完成（或生成）当日之前已完整经过的工作日数，"
                   "按国家法定节假日及调休安排计算；超期超过5个工作日的工单自动列入督办。"),
    ("重办工单", "统计周期内回访结果为不满意或未解决、被退回重新办理的工单，计入原主办部门。"),
    ("督办工单", "统计周期内被列入督办的工单（督办员督办或超期自动督办），计入当时的主办部门。"),
    ("部门排名", "按超期件数由多到少排列；件数相同的，依次按重办、督办件数由多到少排列。"),
)


# ---------------------------------------------------------------- rendering


def _local(at: datetime | None) -> datetime | None:
    # Excel has no time zones: cells hold the local wall-clock time.
    return at.astimezone(LOCAL_TZ).replace(tzinfo=None) if at else None


def period_label(period: Period) -> str:
    """A Chinese name of the period, e.g. 2026年11月 or 2026-11-16至2026-11-22."""
    if period.kind == PeriodKind.MONTH:
        return f"{period.start.year}年{period.start.month}月"
    if period.kind == PeriodKind.QUARTER:
        return f"{period.start.year}年第{(period.start.month - 1) // 3 + 1}季度"
    return f"{period.start.isoformat()}至{period.end.isoformat()}"


def _sheet(ws: Worksheet, headers: list[str], widths: list[int],
           rows: list[list[Any]]) -> None:
    write_table(ws, headers, rows, widths)  # the statistics' one table writer


def _status(code: str) -> str:
    return STATUS_NAMES.get(code, code)  # type: ignore[call-overload]


def _overdue_chart(summary: Worksheet, departments: int) -> BarChart:
    """Overdue tickets per department, sign-for and completion stacked (the summary's rows)."""
    chart = BarChart()
    chart.type, chart.grouping, chart.overlap = "bar", "stacked", 100
    chart.title = "各部门超期件数"
    last = departments + 1
    chart.add_data(Reference(summary, min_col=5, max_col=6, min_row=1, max_row=last),
                   titles_from_data=True)  # 其中签收超期, 其中办结超期
    chart.set_categories(Reference(summary, min_col=2, min_row=2, max_row=last))
    chart.x_axis.scaling.orientation = "maxMin"  # the first-ranked department on top
    chart.y_axis.title = "件"
    chart.height, chart.width = max(7.5, 0.6 * departments), 18
    return chart


def render(plist: PeriodicList) -> Workbook:
    """The workbook of a periodic list: summary, one sheet per list, and the definitions."""
    wb = Workbook()
    summary = wb.active
    assert summary is not None
    summary.title = "部门汇总"
    _sheet(summary, ["排名", "部门", "部门代码", "超期件数", "其中签收超期", "其中办结超期",
                     "重办件数", "督办件数"], [8, 24, 22, 12, 14, 14, 12, 12],
           [[d.rank, d.department_name, d.department_code, d.overdue, d.sign_overdue,
             d.complete_overdue, d.reopened, d.supervised] for d in plist.departments])
    total = ["合计", "", "", sum(d.overdue for d in plist.departments),
             sum(d.sign_overdue for d in plist.departments),
             sum(d.complete_overdue for d in plist.departments),
             sum(d.reopened for d in plist.departments),
             sum(d.supervised for d in plist.departments)]
    summary.append(total)
    for cell in summary[summary.max_row]:
        cell.font = Font(bold=True)
    if plist.departments:
        summary.add_chart(_overdue_chart(summary, len(plist.departments)), "J2")

    _sheet(wb.create_sheet("超期工单"),
           ["工单编号", "事项分类", "部门", "主办/协办", "超期类型", "截止时间", "完成时间",
            "情况", "超期小时", "超期工作日", "当前状态"],
           [26, 36, 24, 10, 12, 18, 18, 14, 12, 12, 12],
           [[r.ticket_number, r.category_name or r.category_code or "", r.department_name,
             ROLE_NAMES.get(r.role, r.role), CLOCK_NAMES[r.clock], _local(r.deadline),
             _local(r.stopped_at), ENDING_NAMES[r.ending], r.late_hours, r.late_working_days,
             _status(r.status)] for r in plist.overdue])
    _sheet(wb.create_sheet("重办工单"),
           ["工单编号", "事项分类", "部门", "重办时间", "满意度", "解决情况", "当前状态"],
           [26, 36, 24, 18, 12, 12, 12],
           [[r.ticket_number, r.category_name or r.category_code or "", r.department_name,
             _local(r.at), SATISFACTION_NAMES.get(r.satisfaction or "", ""),
             "" if r.resolved is None else ("已解决" if r.resolved else "未解决"),
             _status(r.status)] for r in plist.reopened])
    _sheet(wb.create_sheet("督办工单"),
           ["工单编号", "事项分类", "部门", "督办时间", "督办方式", "督办原因", "督办时限",
            "当前状态"],
           [26, 36, 24, 18, 12, 40, 18, 12],
           [[r.ticket_number, r.category_name or r.category_code or "", r.department_name,
             _local(r.at), "自动督办" if r.automatic else "督办员督办", r.reason or "",
             _local(r.deadline), _status(r.status)] for r in plist.supervised])
    calls = plist.calls or {}
    answer, missed = calls.get("answer_15s_rate", {}), calls.get("missed_callback_rate", {})
    _sheet(wb.create_sheet("来电"), ["指标", "比率", "分子", "分母", "口径"],
           [14, 10, 10, 10, 70], [
               ["15秒接通率", answer.get("rate"), answer.get("answered_15s"),
                answer.get("entered_queue"),
                "进入排队后 15 秒内接通的来电 ÷ 进入排队的来电（按振铃日）"],
               ["漏接回拨率", missed.get("rate"), missed.get("called_back_in_time"),
                missed.get("missed_due"),
                "回拨时限内回拨接通的漏接来电 ÷ 回拨时限落在统计期内的漏接来电"
                "（白天 2 小时，夜间次日 10:00）"],
           ])
    about = wb.create_sheet("说明")
    period = plist.period
    _sheet(about, ["项目", "内容"], [16, 100], [
        ["报表", KIND_NAMES[period.kind]],
        ["统计期间", f"{period_label(period)}（{period.start.isoformat()} 至 "
                     f"{period.end.isoformat()}）"],
        ["生成时间", _local(plist.generated_at)],
        *[[name, text] for name, text in DEFINITIONS],
    ])
    for (cell,) in about.iter_rows(min_row=2, min_col=2, max_col=2):
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    wb.properties.title = f"{KIND_NAMES[period.kind]} {period_label(period)}"
    wb.properties.creator = "12345热线工单派遣系统"
    return wb


# ---------------------------------------------------------------- files


def reports_dir(app: Flask) -> Path:
    """Where an application keeps its generated lists."""
    return Path(app.config["INSTANCE_PATH"]) / "reports"


def file_name(period: Period) -> str:
    """The file name of a period's list."""
    return f"{period.kind}-{period.start.isoformat()}.xlsx"


def write_list(plist: PeriodicList, directory: Path) -> Path:
    """Write the list's workbook atomically (temp file, then rename); its path."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / file_name(plist.period)
    fd, temp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            render(plist).save(out)
        stamp = plist.generated_at.timestamp()
        os.utime(temp, (stamp, stamp))  # the listing reads the generation time from here
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target


def generate_in(session: Session, directory: Path, kind: str, day: date,
                now: datetime) -> Path:
    """Build the list of the period before `day` from `session` and store it in `directory`."""
    plist = build_list(session, period_for(kind, day), now, SqlDirectory(session))
    session.commit()  # calendar years the lateness needed, if any were missing
    return write_list(plist, directory)


def generate(target: Flask | Session, kind: str, day: date, now: datetime,
             directory: Path | None = None) -> Path:
    """Generate (or regenerate, overwriting) the list of `kind` for the period before `day`."""
    if isinstance(target, Session):
        if directory is None:
            raise ValueError("a session needs the directory to write to")
        return generate_in(target, directory, kind, day, now)
    session = target.extensions["sqlalchemy"].session
    with target.app_context():
        try:
            return generate_in(session, directory or reports_dir(target), kind, day, now)
        finally:
            session.remove()


def due_reports(now: datetime) -> list[PeriodKind]:
    """The kinds due to be generated on `now`'s local day (for the scheduler)."""
    return due_kinds(now.astimezone(LOCAL_TZ).date())


def run_due(app: Flask, now: datetime) -> list[Path]:
    """Generate every list due on `now`'s local day (idempotent: a rerun overwrites)."""
    day = now.astimezone(LOCAL_TZ).date()
    return [generate(app, kind, day, now) for kind in due_reports(now)]


def report_main(app: Flask, kind: str, day: date | None = None) -> Path:
    """`hotline report`: generate one list now, for the period before `day` (default: today)."""
    now = app.extensions["hotline"].clock.now()
    return generate(app, PeriodKind(kind), day or now.astimezone(LOCAL_TZ).date(), now)


def _parse_name(name: str) -> Period | None:
    match = _NAME.match(name)
    if not match:
        return None
    try:
        return period_starting(match.group(1), date.fromisoformat(match.group(2)))
    except ValueError:
        return None


def file_view(path: Path, period: Period) -> dict[str, Any]:
    """What the listing says about one stored file."""
    info = path.stat()
    return {"kind": str(period.kind), "name": KIND_NAMES[period.kind],
            "start": period.start.isoformat(), "end": period.end.isoformat(),
            "label": period_label(period), "file": path.name, "size": info.st_size,
            "generated_at": datetime.fromtimestamp(info.st_mtime, UTC).isoformat(),
            "url": f"/api/v1/admin/reports/{period.kind}/{period.start.isoformat()}.xlsx"}


def list_reports(directory: Path) -> list[dict[str, Any]]:
    """The stored lists, newest period first (temp files and strangers are left out)."""
    if not directory.is_dir():
        return []
    found = [(p, period) for p in directory.iterdir()
             if p.is_file() and (period := _parse_name(p.name)) is not None]
    found.sort(key=lambda f: (f[1].start, f[1].kind), reverse=True)
    return [file_view(p, period) for p, period in found]


def stored_period(kind: str, start: str) -> Period:
    """The period a download names; NotFound unless kind and start name a real period."""
    if kind not in PeriodKind.__members__.values() or not _DAY.match(start):
        raise NotFound("没有这份清单：类型须为 week、month 或 quarter，开始日期须为 "
                       "YYYY-MM-DD")
    try:
        return period_starting(kind, date.fromisoformat(start))
    except ValueError:
        raise NotFound(f"没有从 {start} 开始的 {kind} 清单") from None


