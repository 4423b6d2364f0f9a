"""Importing an old system's history (`hotline tickets import FILE.csv|FILE.xlsx`).

Every row of the old system's export becomes a ticket in the state the old system left it in,
with the events a ticket in that state would have (intake, dispatch, sign, complete, review,
callback...), each checked against the one transition table, so that the statistics computed
from the event log count the past like the present. The ticket is located in the active grid
(points in bulk) and routed by the dispatch catalogue; the old system's category and department
are translated through the mapping file.

How it goes:
1. `check_rows` reads every row (headings in Chinese, or the old system's own headings named in
   the mapping file) and rejects what cannot be imported, naming the row, the column and why.
   Nothing is written when any row is rejected (all or nothing, one transaction per file).
2. Rows whose old number (原工单编号) was imported before are skipped: a second run of the same
   file changes nothing. The old number is kept in `tickets.import_ref` (unique).
3. The rest are located and routed in bulk and written by batched SQLAlchemy Core inserts
   (tickets, assignments, events), numbered by their day of intake (the day's counter is moved
   once per day for the whole file, so live intake never shares a number).
4. The caller commits, then rebuilds the statistics' rollups (`dispatch.stats.rollups.rebuild`).

Imported tickets reach nothing live: the rows are written with Core inserts, not through the
session's unit of work, so the table of consequences (`dispatch.subscribers`: console feed,
statistics queue, outbox SMS and 110 messages) never sees them, and no alarm is raised. Closed
tickets have closed clocks; an open one (dispatched, signed) gets its sign-for and completion
clocks from its dispatch time under today's time limits, and the steps that fell due before the
import are marked as fired at the import (no retroactive urges or SMS); the later ones fire as
usual.
"""

from __future__ import annotations

import json
import math
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from phonenumbers import PhoneMetadata
from sqlalchemy import JSON, Table, func, insert, select, text
from sqlalchemy.orm import Session

from dispatch.core.db import UTCDateTime, upsert_insert
from dispatch.core.errors import InvalidInput
from dispatch.core.imports import RejectedRow, read_sheet, records
from dispatch.core.models import Assignment, Category, Event, Ticket, TicketCounter
from dispatch.core.ports import DepartmentRef, Location, Routing
from dispatch.core.vocab import (
    AssignmentStatus,
    Channel,
    Outcome,
    RequestType,
    Satisfaction,
    Status,
    Urgency,
)
from dispatch.intake.numbering import PREFIX
from dispatch.intake.phones import normalize_phone
from dispatch.intake.repeats import category_tree
from dispatch.tickets.calendar import LOCAL_TZ, WorkingCalendar, calendar_year
from dispatch.tickets.clocks import Limit, TimeLimits, end_of_local_day, get_time_limits
from dispatch.tickets.lifecycle.table import SAME, TABLE

MAX_ROWS = 2_000_000
MAX_BYTES = 2 * 1024 * 1024 * 1024
BATCH = 2000

# Chinese heading → field. The English field names are accepted as headings too.
HEADINGS: dict[str, str] = {
    "原工单编号": "ref",
    "受理时间": "created_at",
    "渠道": "channel",
    "诉求类型": "type",
    "事项分类": "category",
    "紧急程度": "urgency",
    "诉求内容": "text",
    "诉求人": "citizen_name",
    "联系电话": "citizen_phone",
    "匿名": "anonymous",
    "保密": "confidential",
    "地址": "address",
    "经度": "lon",
    "纬度": "lat",
    "坐标系": "crs",
    "承办单位": "department",
    "状态": "state",
    "派单时间": "dispatched_at",
    "签收时间": "signed_at",
    "办结时间": "completed_at",
    "办结情况": "result",
    "回访时间": "callback_at",
    "满意度": "satisfaction",
    "是否解决": "resolved",
    "归档时间": "closed_at",
}
FIELD_NAMES: dict[str, str] = {f: h for h, f in HEADINGS.items()}

CHANNELS: dict[str, str] = {
    "电话": Channel.PHONE, "热线": Channel.PHONE, "12345": Channel.PHONE,
    "12345热线": Channel.PHONE, "微信": Channel.WECHAT, "公众号": Channel.WECHAT,
    "110": Channel.POLICE110, "110转办": Channel.POLICE110, "110联动": Channel.POLICE110,
    "网站": Channel.WEB, "网页": Channel.WEB, "网络": Channel.WEB, "open311": Channel.OPEN311,
    **{c.value: c.value for c in Channel},
}
TYPES: dict[str, str] = {
    "咨询": RequestType.CONSULT, "求助": RequestType.HELP, "投诉": RequestType.COMPLAINT,
    "举报": RequestType.REPORT, "建议": RequestType.SUGGESTION, "表扬": RequestType.PRAISE,
    **{t.value: t.value for t in RequestType},
}
URGENCIES: dict[str, str] = {
    "一般": Urgency.NORMAL, "普通": Urgency.NORMAL, "紧急": Urgency.URGENT,
    "特急": Urgency.CRITICAL, **{u.value: u.value for u in Urgency},
}
UNREACHABLE = "unreachable"
SATISFACTIONS: dict[str, str] = {
    "满意": Satisfaction.SATISFIED, "非常满意": Satisfaction.SATISFIED,
    "基本满意": Satisfaction.BASICALLY_SATISFIED, "不满意": Satisfaction.DISSATISFIED,
    "无法联系": UNREACHABLE, "联系不上": UNREACHABLE, "未联系上": UNREACHABLE,
    **{s.value: s.value for s in Satisfaction}, UNREACHABLE: UNREACHABLE,
}
YES = frozenset({"是", "y", "yes", "true", "1", "已解决"})
NO = frozenset({"否", "n", "no", "false", "0", "未解决"})

# The old system's states this import understands (the mapping file may add its own labels).
ANSWERED = "ANSWERED"  # answered directly at intake: ARCHIVED with the outcome direct_answer
STATES: dict[str, str] = {
    "待派单": Status.NEW, "待处理": Status.NEW, "已受理": Status.NEW,
    "直接答复": ANSWERED, "已答复": ANSWERED, "直办": ANSWERED,
    "已派单": Status.DISPATCHED, "待签收": Status.DISPATCHED,
    "已签收": Status.SIGNED, "办理中": Status.SIGNED, "处理中": Status.SIGNED,
    "已退单": Status.RETURNED, "退单": Status.RETURNED,
    "已办结": Status.COMPLETED, "待审核": Status.COMPLETED,
    "已审核": Status.REVIEWED, "待回访": Status.REVIEWED,
    "重办": Status.REOPENED,
    "已归档": Status.ARCHIVED, "已完成": Status.ARCHIVED, "办结归档": Status.ARCHIVED,
    "作废": Status.VOID, "无效": Status.VOID,
    ANSWERED: ANSWERED, "direct_answer": ANSWERED,
    **{s.value: s.value for s in Status if s not in (Status.MERGED, Status.TRANSFERRED_110)},
}
# The numbering plan's mobile numbers (what phonenumbers calls a valid MOBILE in CN).
def _mobile_pattern() -> re.Pattern[str]:
    metadata = PhoneMetadata.metadata_for_region("CN")
    pattern = metadata.mobile.national_number_pattern if metadata and metadata.mobile else None
    return re.compile(pattern or r"(?!)")


_CN_MOBILE = _mobile_pattern()

HANDLED = (Status.DISPATCHED, Status.SIGNED, Status.RETURNED, Status.COMPLETED,
           Status.REVIEWED, Status.REOPENED, Status.ARCHIVED)


# ---------------------------------------------------------------- ports and mapping


class HistoryGrid(Protocol):
    """What the import needs from the grid: bulk and single location, routing, departments."""

    def locate_points(self, lons: Sequence[float], lats: Sequence[float], crs: Sequence[str],
                      addresses: Sequence[str | None]) -> list[Location]:
        """The cells and areas of many points at once (an address is the fallback)."""
        ...

    def locate(self, lon: float | None, lat: float | None, crs: str,
               address: str | None) -> Location:
        """The cell and areas of one point or address."""
        ...

    def route(self, category: str | None, location: Location) -> Routing:
        """Lead department and co-handlers from the dispatch catalogue."""
        ...

    def departments(self) -> Iterable[DepartmentRef]:
        """Every department."""
        ...


@dataclass(frozen=True)
class HistoryMapping:
    """The mapping file: the old system's words → ours. Every key is optional:
    `columns` (old heading → field or Chinese heading), `categories` (old category → category
    code), `departments` (old department → department code), `channels`, `states`, `types`,
    `crs` (the coordinate system of the file's points, default WGS84)."""

    columns: Mapping[str, str] = field(default_factory=dict)
    categories: Mapping[str, str] = field(default_factory=dict)
    departments: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)
    states: Mapping[str, str] = field(default_factory=dict)
    types: Mapping[str, str] = field(default_factory=dict)
    crs: str = "WGS84"


MAPPING_KEYS = ("columns", "categories", "departments", "channels", "states", "types")


def parse_mapping(data: bytes | str | Mapping[str, Any] | None) -> HistoryMapping:
    """The mapping file (JSON) checked: an object of objects of text, known values only."""
    if data is None:
        return HistoryMapping()
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"映射文件不是有效的 JSON：{exc}", field="mapping") from exc
    if not isinstance(data, Mapping):
        raise InvalidInput("映射文件须为 JSON 对象", field="mapping")
    unknown = set(data) - {*MAPPING_KEYS, "crs"}
    if unknown:
        raise InvalidInput(f"映射文件有不认识的键：{'、'.join(sorted(unknown))}；可用的键："
                           f"{'、'.join((*MAPPING_KEYS, 'crs'))}", field="mapping")
    parts: dict[str, Any] = {}
    for key in MAPPING_KEYS:
        value = data.get(key, {})
        if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise InvalidInput(f"映射文件的“{key}”须为“旧值: 新值”的文本对象", field="mapping")
        parts[key] = {k.strip(): v.strip() for k, v in value.items()}
    for old, new in parts["columns"].items():
        if new not in HEADINGS and new not in FIELD_NAMES:
            raise InvalidInput(f"映射文件 columns：“{old}”对应的“{new}”不是可导入的列；可用的列："
                               f"{'、'.join(HEADINGS)}", field="mapping")
    for old, new in parts["states"].items():
        if new not in STATES:
            raise InvalidInput(f"映射文件 states：“{old}”对应的“{new}”不是可导入的状态；可用："
                               f"{'、'.join(sorted({*STATES.values()}))}", field="mapping")
    for key, known in (("channels", CHANNELS), ("types", TYPES)):
        for old, new in parts[key].items():
            if new not in known:
                raise InvalidInput(f"映射文件 {key}：“{old}”对应的“{new}”不认识",
                                   field="mapping")
    crs = data.get("crs", "WGS84")
    if crs not in ("WGS84", "GCJ02", "BD09", "CGCS2000"):
        raise InvalidInput("映射文件 crs 须为 WGS84、GCJ02、BD09 或 CGCS2000", field="mapping")
    return HistoryMapping(**parts, crs=crs)


# ---------------------------------------------------------------- checking rows


@dataclass
class HistoryRow:
    """One checked row, ready to locate, route and write."""

    row: int
    ref: str
    created_at: datetime
    channel: str
    type: str | None
    category: str | None
    urgency: str
    text: str
    citizen_name: str | None
    citizen_phone: str | None
    anonymous: bool
    confidential: bool
    address: str | None
    lon: float | None
    lat: float | None
    crs: str
    department: str | None
    state: str
    dispatched_at: datetime | None
    signed_at: datetime | None
    completed_at: datetime | None
    result: str | None
    callback_at: datetime | None
    satisfaction: str | None
    resolved: bool | None
    closed_at: datetime | None


class _Rejected(Exception):
    def __init__(self, field_name: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


def _reject(field_name: str, message: str) -> _Rejected:
    return _Rejected(field_name, f"“{FIELD_NAMES.get(field_name, field_name)}”{message}")


_TIME_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y-%m-%d %H:%M",
                 "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日")


def parse_time(text: str) -> datetime:
    """A time as old systems write it; without an offset it is local (Asia/Shanghai)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        for fmt in _TIME_FORMATS:
            try:
                moment = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            raise ValueError(text) from None
    return moment.replace(tzinfo=LOCAL_TZ) if moment.tzinfo is None else moment


class RowChecker:
    """Checks rows one by one against the reference data read once."""

    def __init__(self, session: Session, mapping: HistoryMapping, grid: HistoryGrid,
                 now: datetime) -> None:
        self.mapping = mapping
        self.now = now
        tree = category_tree(session)
        self.categories = set(tree)
        names: dict[str, list[str]] = {}
        for code, name in session.execute(select(Category.code, Category.name)):
            names.setdefault(name, []).append(code)
        self.category_names = {n: c[0] for n, c in names.items() if len(c) == 1}
        self.departments = {d.code: d for d in grid.departments()}
        by_name: dict[str, list[str]] = {}
        for d in self.departments.values():
            by_name.setdefault(d.name, []).append(d.code)
        self.department_names = {n: c[0] for n, c in by_name.items() if len(c) == 1}
        self.states = {**STATES, **mapping.states}
        self.channels = {**CHANNELS, **mapping.channels}
        self.types = {**TYPES, **mapping.types}

    def _time(self, values: Mapping[str, str], name: str, required: bool = False
              ) -> datetime | None:
        text = values.get(name, "")
        if not text:
            if required:
                raise _reject(name, "不能为空")
            return None
        try:
            moment = parse_time(text)
        except ValueError:
            raise _reject(name, f"“{text}”不是时间（例：2024-03-05 10:15:00）") from None
        if moment > self.now:
            raise _reject(name, f"“{text}”晚于现在")
        return moment

    def _choice(self, values: Mapping[str, str], name: str, table: Mapping[str, str],
                default: str | None) -> str | None:
        text = values.get(name, "")
        if not text:
            return default
        found = table.get(text) or table.get(text.lower())
        if found is None:
            raise _reject(name, f"“{text}”不认识；可用：{'、'.join(k for k in table if k)}")
        return found

    def _flag(self, values: Mapping[str, str], name: str) -> bool | None:
        text = values.get(name, "").lower()
        if not text:
            return None
        if text in YES:
            return True
        if text in NO:
            return False
        raise _reject(name, f"“{values[name]}”须为“是”或“否”")

    def _number(self, values: Mapping[str, str], name: str, limit: float) -> float | None:
        text = values.get(name, "")
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            raise _reject(name, f"“{text}”不是数字") from None
        if not math.isfinite(number) or not -limit <= number <= limit:
            raise _reject(name, f"“{text}”须在 -{limit:g} 到 {limit:g} 之间")
        return number

    def _category(self, text: str) -> str | None:
        if not text:
            return None
        code = self.mapping.categories.get(text) or (
            text if text in self.categories else self.category_names.get(text))
        if code is None or code not in self.categories:
            raise _reject("category", f"“{text}”没有对应的分类：请在映射文件 categories 中给出"
                                      "它对应的分类编码")
        return code

    def _department(self, text: str) -> str | None:
        if not text:
            return None
        code = self.mapping.departments.get(text) or (
            text if text in self.departments else self.department_names.get(text))
        if code is None or code not in self.departments:
            raise _reject("department", f"“{text}”没有对应的部门：请在映射文件 departments 中"
                                        "给出它对应的部门编码")
        return code

    def _phone(self, raw: str) -> str:
        """`normalize_phone`'s answer; a plain Chinese mobile number is checked against the
        numbering plan's mobile pattern directly (what `normalize_phone` finds, 30 times
        faster)."""
        if len(raw) == 11 and _CN_MOBILE.fullmatch(raw):
            return raw
        try:
            return normalize_phone(raw, "citizen_phone")
        except InvalidInput:
            raise _reject("citizen_phone", f"“{raw}”不是有效的电话号码") from None

    def check(self, number: int, values: Mapping[str, str]) -> HistoryRow:
        """One row checked and normalised, or `_Rejected` naming the field."""
        ref = values.get("ref", "")
        if not ref:
            raise _reject("ref", "不能为空")
        if len(ref) > 64:
            raise _reject("ref", "超过 64 个字符")
        text = values.get("text", "")
        if not text:
            raise _reject("text", "不能为空")
        created = self._time(values, "created_at", required=True)
        assert created is not None
        state = self._choice(values, "state", self.states, None)
        if state is None:
            raise _reject("state", "不能为空")
        phone = values.get("citizen_phone", "") or None
        if phone is not None:
            phone = self._phone(phone)
        lon, lat = self._number(values, "lon", 180.0), self._number(values, "lat", 90.0)
        if (lon is None) != (lat is None):
            raise _reject("lat" if lat is None else "lon", "须与经度、纬度同时填写")
        crs = values.get("crs", "") or self.mapping.crs
        if crs.upper() not in ("WGS84", "GCJ02", "BD09", "CGCS2000"):
            raise _reject("crs", f"“{crs}”须为 WGS84、GCJ02、BD09 或 CGCS2000")
        anonymous = bool(self._flag(values, "anonymous"))
        row = HistoryRow(
            row=number, ref=ref, created_at=created,
            channel=self._choice(values, "channel", self.channels, Channel.PHONE) or "phone",
            type=self._choice(values, "type", self.types, None),
            category=self._category(values.get("category", "")),
            urgency=self._choice(values, "urgency", URGENCIES, Urgency.NORMAL) or "normal",
            text=text,
            citizen_name=None if anonymous else (values.get("citizen_name", "")[:60] or None),
            citizen_phone=phone, anonymous=anonymous,
            confidential=bool(self._flag(values, "confidential")),
            address=values.get("address", "")[:200] or None, lon=lon, lat=lat,
            crs=crs.upper(),
            department=self._department(values.get("department", "")),
            state=state,
            dispatched_at=self._time(values, "dispatched_at"),
            signed_at=self._time(values, "signed_at"),
            completed_at=self._time(values, "completed_at"),
            result=values.get("result", "") or None,
            callback_at=self._time(values, "callback_at"),
            satisfaction=self._choice(values, "satisfaction", SATISFACTIONS, None),
            resolved=self._flag(values, "resolved"),
            closed_at=self._time(values, "closed_at"),
        )
        self._check_story(row)
        return row

    def _check_story(self, r: HistoryRow) -> None:
        """The times in order and what the state needs."""
        handled = r.state in HANDLED
        completed = r.state in (Status.COMPLETED, Status.REVIEWED, Status.REOPENED,
                                Status.ARCHIVED)
        if completed and r.completed_at is None:
            raise _reject("completed_at", f"不能为空：状态为“{r.state}”的工单须有办结时间")
        if r.state == Status.REOPENED and not (
                r.satisfaction == Satisfaction.DISSATISFIED or r.resolved is False):
            raise _reject("satisfaction", "重办的工单须有“不满意”或“未解决”的回访")
        answered = r.satisfaction is not None and r.satisfaction != UNREACHABLE
        if answered and r.resolved is None:
            raise _reject("resolved", "不能为空：填了满意度的回访须同时填写是否解决")
        if r.resolved is not None and r.satisfaction is None:
            raise _reject("satisfaction", "不能为空：填了是否解决的回访须同时填写满意度")
        if r.state == Status.ARCHIVED and answered and (
                r.satisfaction == Satisfaction.DISSATISFIED or r.resolved is False):
            raise _reject("state", "回访不满意或未解决的工单应为“重办”，不能归档")
        if r.satisfaction is not None and r.state not in (Status.ARCHIVED, Status.REOPENED):
            raise _reject("satisfaction", f"状态为“{r.state}”的工单还不能有回访结果")
        order = [("created_at", r.created_at)]
        if handled:
            order.append(("dispatched_at", r.dispatched_at or r.created_at))
            if r.signed_at is not None:
                order.append(("signed_at", r.signed_at))
            if r.completed_at is not None:
                order.append(("completed_at", r.completed_at))
            if r.callback_at is not None:
                order.append(("callback_at", r.callback_at))
        if r.closed_at is not None:
            order.append(("closed_at", r.closed_at))
        for (_, before), (name, after) in zip(order, order[1:], strict=False):
            if after < before:
                raise _reject(name, "早于前一个环节的时间（受理 → 派单 → 签收 → 办结 → 回访 → "
                                    "归档）")


@dataclass
class HistoryReport:
    """What an import found and did."""

    rows: int = 0
    imported: int = 0
    skipped: int = 0  # imported before (same old number): left as they are
    rejected: list[RejectedRow] = field(default_factory=list)
    committed: bool = False
    by_state: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # seconds by step (benchmarks)

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "imported": self.imported, "skipped": self.skipped,
                "rejected": [r.as_dict() for r in self.rejected], "committed": self.committed,
                "by_state": dict(self.by_state)}


Progress = Callable[[str, int, int], None]


def read_rows(data: bytes, filename: str, mapping: HistoryMapping
              ) -> list[tuple[int, dict[str, str]]]:
    """(row number, field → text) of every non-blank row of the file, the old system's
    headings translated through the mapping's `columns`."""
    sheet = read_sheet(data, filename, max_bytes=MAX_BYTES)
    if sheet and mapping.columns:
        sheet[0] = [mapping.columns.get(h, h) for h in sheet[0]]
    return records(sheet, HEADINGS, max_rows=MAX_ROWS)


def check_rows(session: Session, rows: Sequence[tuple[int, dict[str, str]]],
               mapping: HistoryMapping, grid: HistoryGrid, now: datetime,
               progress: Progress | None = None) -> tuple[list[HistoryRow], list[RejectedRow]]:
    """Every row checked: the good ones and the rejected ones (row number, field, why). An old
    number twice in the file rejects its second row."""
    checker = RowChecker(session, mapping, grid, now)
    good: list[HistoryRow] = []
    rejected: list[RejectedRow] = []
    seen: dict[str, int] = {}
    for i, (number, values) in enumerate(rows):
        try:
            row = checker.check(number, values)
            first = seen.setdefault(row.ref, number)
            if first != number:
                raise _reject("ref", f"“{row.ref}”与第 {first} 行重复")
            good.append(row)
        except _Rejected as exc:
            rejected.append(RejectedRow(number, exc.message, FIELD_NAMES.get(exc.field or "",
                                                                             exc.field)))
        if progress is not None and (i % 5000 == 0 or i == len(rows) - 1):
            progress("检查", i + 1, len(rows))
    return good, rejected


# ---------------------------------------------------------------- the story of a state

# Each imported state's events after intake: (action, from, to). Checked against the
# transition table once, below, so no imported history is one the system could not make.
Story = list[tuple[str, Status, Status]]
_HANDLING: Story = [("dispatch", Status.NEW, Status.DISPATCHED)]
_SIGNED: Story = [*_HANDLING, ("sign", Status.DISPATCHED, Status.SIGNED)]
_COMPLETED: Story = [*_SIGNED, ("complete", Status.SIGNED, Status.COMPLETED)]
_REVIEWED: Story = [*_COMPLETED, ("review_accept", Status.COMPLETED, Status.REVIEWED)]
STORIES: dict[str, Story] = {
    Status.NEW: [],
    ANSWERED: [("answer", Status.NEW, Status.ARCHIVED)],
    Status.VOID: [("void", Status.NEW, Status.VOID)],
    Status.DISPATCHED: _HANDLING,
    Status.SIGNED: _SIGNED,
    Status.RETURNED: [*_HANDLING, ("return", Status.DISPATCHED, Status.RETURNED)],
    Status.COMPLETED: _COMPLETED,
    Status.REVIEWED: _REVIEWED,
    Status.REOPENED: [*_REVIEWED, ("callback", Status.REVIEWED, Status.REOPENED)],
    # ARCHIVED: the review's end is chosen per row (callback or close_without_callback).
    Status.ARCHIVED: _REVIEWED,
}


def _event_count(r: HistoryRow) -> int:
    """How many events an imported row gets: intake, its story, the archiving."""
    return 1 + len(STORIES[r.state]) + (r.state == Status.ARCHIVED)


def _check_stories() -> None:
    endings: Story = [("callback", Status.REVIEWED, Status.ARCHIVED),
               ("close_without_callback", Status.REVIEWED, Status.ARCHIVED)]
    for story in [*STORIES.values(), endings]:
        for action, frm, to in story:
            rule = TABLE[action]
            if frm not in rule.from_states or (to not in rule.to_states
                                               and SAME not in rule.to_states):
                raise AssertionError(f"imported story: {action} {frm} -> {to}")


_check_stories()


# ---------------------------------------------------------------- clocks


class _Clocks:
    """Deadlines under today's time limits, the calendar read once per year."""

    def __init__(self, session: Session, limits: TimeLimits) -> None:
        self.session = session
        self.limits = limits
        self.days: dict[date, tuple[bool, str]] = {}
        self.years: set[int] = set()
        self.cache: dict[tuple[date, int], tuple[datetime, bool]] = {}

    def _working(self, start: date, count: int) -> tuple[datetime, bool]:
        key = (start, count)
        found = self.cache.get(key)
        if found is None:
            last = start + timedelta(days=count * 2 + 40)
            missing = set(range(start.year, last.year + 1)) - self.years
            if missing:  # `read_years` read them all: nothing is read while writing
                raise AssertionError(f"calendar years not read: {sorted(missing)}")
            day, provisional = WorkingCalendar(self.days).add_working_days(start, count)
            found = self.cache[key] = (end_of_local_day(day), provisional)
        return found

    def read_years(self, first: datetime, last: datetime) -> None:
        """Read the calendar from `first` to a year after `last` (before the writing starts:
        the writing reads nothing from the database)."""
        for year in range(first.astimezone(LOCAL_TZ).year, last.astimezone(LOCAL_TZ).year + 2):
            if year not in self.years:
                self.days.update(calendar_year(self.session, year))
                self.years.add(year)

    def deadline(self, start: datetime, limit: Limit) -> tuple[datetime, bool]:
        if limit.unit == "minutes":
            return start + timedelta(minutes=limit.value), False
        if limit.unit == "hours":
            return start + timedelta(hours=limit.value), False
        return self._working(start.astimezone(LOCAL_TZ).date(), limit.value)


# ---------------------------------------------------------------- writing


def _imported_refs(session: Session, refs: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(refs), 5000):
        chunk = refs[i:i + 5000]
        found.update(session.scalars(select(Ticket.import_ref).where(
            Ticket.import_ref.in_(chunk))))
    return found


def _reserve_numbers(session: Session, rows: Sequence[HistoryRow]) -> list[str]:
    """A ticket number per row by its local day of intake: each day's counter moved once for
    the whole file (an upsert, as live intake takes its numbers: never a shared number)."""
    days = [r.created_at.astimezone(LOCAL_TZ).strftime("%Y%m%d") for r in rows]
    wanted: dict[str, int] = {}
    for d in days:
        wanted[d] = wanted.get(d, 0) + 1
    table = _table(TicketCounter)
    next_of: dict[str, int] = {}
    items = sorted(wanted.items())
    for i in range(0, len(items), 1000):
        chunk = [{"day": day, "last": count} for day, count in items[i:i + 1000]]
        stmt = upsert_insert(session, table).values(chunk)
        stmt = stmt.on_conflict_do_update(
            index_elements=["day"], set_={"last": table.c.last + stmt.excluded.last}
        ).returning(table.c.day, table.c.last)
        for day, last in session.connection().execute(stmt):
            next_of[day] = last - wanted[day] + 1
    out = []
    for d in days:
        out.append(f"{PREFIX}-{d}-{next_of[d]:06d}")
        next_of[d] += 1
    return out


class _Sink:
    """Where the batches go. Ids are taken up front for the whole file (from the sequences on
    PostgreSQL; after the largest on SQLite, whose one writer holds the database from the
    counters' upsert on). On PostgreSQL each batch goes by COPY in text format (the values
    formatted here, once) from a thread of its own, so that the database takes one batch
    while the next is made; elsewhere by a batched executemany. Nothing else may use the
    session between `start` and `close`."""

    def __init__(self, session: Session) -> None:
        self.connection = session.connection()
        self.postgresql = self.connection.dialect.name == "postgresql"
        self.ids: dict[str, Iterator[int]] = {}
        self.database_seconds = 0.0
        self.queue: queue.Queue[tuple[str, list[str], str] | None] = queue.Queue(maxsize=3)
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None

    def relax_commit(self) -> None:
        """PostgreSQL: the commit does not wait for its WAL to reach the disk (seconds for a
        large file). A crash in that moment loses the import, never half of it; running the
        file again brings it."""
        if self.postgresql:
            self.connection.execute(text("SET LOCAL synchronous_commit TO OFF"))

    def reserve(self, table: Table, n: int) -> None:
        """Take `n` ids of `table` for the rows to come."""
        if self.postgresql:
            taken = list(self.connection.execute(text(
                "SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
                {"t": table.name, "n": n}).scalars())
        else:
            top = self.connection.execute(select(func.max(table.c.id))).scalar() or 0
            taken = list(range(top + 1, top + 1 + n))
        self.ids[table.name] = iter(taken)

    def next_id(self, table: Table) -> int:
        return next(self.ids[table.name])

    def start(self) -> None:
        if self.postgresql:
            self.thread = threading.Thread(target=self._copy, name="history-import-copy",
                                           daemon=True)
            self.thread.start()

    def put(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """Write rows (the same keys in each; columns left out are NULL or their default)."""
        if not rows:
            return
        if not self.postgresql:
            started = time.perf_counter()
            self.connection.execute(insert(table), rows)
            self.database_seconds += time.perf_counter() - started
            return
        columns = list(rows[0])
        self.queue.put((table.name, columns, _copy_lines(table, columns, rows)))
        if self.error is not None:
            self.close()

    def _copy(self) -> None:
        raw = self.connection.connection.driver_connection
        assert raw is not None
        while (item := self.queue.get()) is not None:
            if self.error is not None:
                continue  # drain: the main thread sees the error at its next put or close
            name, columns, data = item
            started = time.perf_counter()
            try:
                with raw.cursor() as cursor, cursor.copy(
                        f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
                    copy.write(data)
            except BaseException as exc:  # handed to the main thread
                self.error = exc
            self.database_seconds += time.perf_counter() - started

    def close(self) -> None:
        """Wait for the batches sent; raise what failed."""
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join()
            self.thread = None
        if self.error is not None:
            error, self.error = self.error, None
            raise error


def _copy_lines(table: Table, columns: list[str], rows: list[dict[str, Any]]) -> str:
    """The rows in COPY's text format."""
    formats = [_copy_format(table.c[c].type) for c in columns]
    encoded: dict[int, str] = {}  # a JSON value shared by many rows is encoded once

    def as_json(v: Any) -> str:
        found = encoded.get(id(v))
        if found is None:
            found = encoded[id(v)] = _copy_text(json.dumps(v, ensure_ascii=False))
        return found

    pairs = [(c, as_json if f is None else f) for c, f in zip(columns, formats, strict=True)]
    lines = ["\t".join(["\\N" if (v := row[c]) is None else f(v) for c, f in pairs])
             for row in rows]
    lines.append("")
    return "\n".join(lines)


def _copy_format(kind: Any) -> Callable[[Any], str] | None:
    """How COPY's text format writes a non-null value of a column type (None: JSON)."""
    if isinstance(kind, JSON):
        return None
    python = kind.python_type if not isinstance(kind, UTCDateTime) else datetime
    if python is bool:
        return lambda v: "t" if v else "f"
    if python is str:
        return _copy_text
    if python is datetime:
        return datetime.isoformat
    return str


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(text_: str) -> str:
    """A text value as COPY's text format reads it (backslash, tab and line ends escaped)."""
    return text_.translate(_COPY_ESCAPES) if ("\\" in text_ or "\t" in text_ or "\n" in text_
                                              or "\r" in text_) else text_


def _locate_all(rows: Sequence[HistoryRow], grid: HistoryGrid) -> list[Location]:
    located: list[Location | None] = [None] * len(rows)
    points = [i for i, r in enumerate(rows) if r.lon is not None]
    if points:
        found = grid.locate_points([rows[i].lon or 0.0 for i in points],
                                   [rows[i].lat or 0.0 for i in points],
                                   [rows[i].crs for i in points],
                                   [rows[i].address for i in points])
        for i, loc in zip(points, found, strict=True):
            located[i] = loc
    by_address: dict[str | None, Location] = {}
    for i, r in enumerate(rows):
        if located[i] is None:
            found_at = by_address.get(r.address)
            if found_at is None:
                found_at = by_address[r.address] = grid.locate(None, None, r.crs, r.address)
            located[i] = found_at
    return [loc for loc in located if loc is not None]


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


@dataclass
class _Writer:
    sink: _Sink
    now: datetime
    clocks: _Clocks
    source: str
    tickets: list[dict[str, Any]] = field(default_factory=list)
    stories: list[tuple[HistoryRow, str | None, Routing]] = field(default_factory=list)
    # One JSON value per distinct routing, limit and flags: encoded once per batch.
    shared: dict[Any, Any] = field(default_factory=dict)

    def _shared(self, key: Any, make: Callable[[], Any]) -> Any:
        found = self.shared.get(key)
        if found is None:
            found = self.shared[key] = make()
        return found

    def ticket_row(self, r: HistoryRow, number: str, loc: Location, routing: Routing,
                   lead: str | None) -> None:
        status = r.state if r.state != ANSWERED else Status.ARCHIVED
        outcome = None
        if r.state == ANSWERED:
            outcome = Outcome.DIRECT_ANSWER
        elif r.state == Status.ARCHIVED:
            outcome = (Outcome.UNREACHABLE if r.satisfaction == UNREACHABLE else
                       Outcome.CALLBACK if r.satisfaction is not None else Outcome.NO_CALLBACK)
        closed = None
        if status in (Status.ARCHIVED, Status.VOID):
            closed = r.closed_at or r.callback_at or r.completed_at or r.created_at
        last = max([t for t in (r.created_at, r.dispatched_at, r.signed_at, r.completed_at,
                                r.callback_at, closed) if t is not None])
        answered = r.satisfaction not in (None, UNREACHABLE)
        callback_deadline = None
        if status == Status.REVIEWED:
            reviewed = r.completed_at or r.created_at
            limit = getattr(self.clocks.limits.callback, r.urgency)
            callback_deadline = self.clocks.deadline(reviewed, limit)[0]
        self.tickets.append({
            "number": number, "status": status,
            "version": _event_count(r),
            "channel": r.channel, "type": r.type, "category_code": r.category,
            "urgency": r.urgency, "police_matter": False, "text": r.text, "outcome": outcome,
            "citizen_name": r.citizen_name, "citizen_phone": r.citizen_phone,
            "anonymous": r.anonymous, "confidential": r.confidential,
            "direct_contact": False, "address": r.address if r.address else loc.address,
            "lon": loc.lon, "lat": loc.lat, "cell_code": loc.cell,
            "community_code": loc.community, "street_code": loc.street,
            "grid_version": loc.grid_version,
            "location_flags": self._shared(("flags", loc.flags), lambda: list(loc.flags)),
            "routing": self._shared(routing, routing.as_dict),
            "import_ref": r.ref,
            "supervised": r.state == Status.REOPENED,
            "callback_deadline": callback_deadline,
            "callback_attempts": 1 if r.satisfaction == UNREACHABLE else 0,
            "satisfaction": r.satisfaction if answered else None,
            "resolved": r.resolved if answered else None,
            "created_at": r.created_at, "updated_at": last, "closed_at": closed,
        })
        self.stories.append((r, lead, routing))

    def flush(self) -> None:
        if not self.tickets:
            return
        assignments: list[dict[str, Any]] = []
        assignment_ids: dict[int, int] = {}
        events: list[dict[str, Any]] = []
        tickets, assignments_t, events_t = _table(Ticket), _table(Assignment), _table(Event)
        for ticket, (r, lead, routing) in zip(self.tickets, self.stories, strict=True):
            tid = ticket["id"] = self.sink.next_id(tickets)
            if r.state in HANDLED and lead is not None:
                a = self._assignment(tid, r, lead)
                a["id"] = assignment_ids[tid] = self.sink.next_id(assignments_t)
                assignments.append(a)
            for e in self._events(tid, ticket, r, lead, routing, assignment_ids.get(tid)):
                e["id"] = self.sink.next_id(events_t)
                events.append(e)
        self.sink.put(tickets, self.tickets)
        self.sink.put(assignments_t, assignments)
        self.sink.put(events_t, events)
        self.tickets, self.stories, self.shared = [], [], {}

    def _assignment(self, tid: int, r: HistoryRow, lead: str) -> dict[str, Any]:
        limits = self.clocks.limits
        at = r.dispatched_at or r.created_at
        sign_limit = limits.sign_limit(r.urgency)
        complete_limit = limits.complete_limit(r.type, r.urgency)
        sign, p1 = self.clocks.deadline(at, sign_limit)
        complete, p2 = self.clocks.deadline(at, complete_limit)
        ratio = limits.warning_ratio
        sign_warn = at + (sign - at) * ratio
        complete_warn = at + (complete - at) * ratio
        signed = r.signed_at or (at if r.state not in (Status.DISPATCHED, Status.RETURNED)
                                 else None)
        completed = r.completed_at
        status = {Status.DISPATCHED: AssignmentStatus.DISPATCHED,
                  Status.SIGNED: AssignmentStatus.SIGNED,
                  Status.RETURNED: AssignmentStatus.RETURNED}.get(
            Status(r.state), AssignmentStatus.COMPLETED)
        closed = None
        if r.state in (Status.REVIEWED, Status.REOPENED, Status.ARCHIVED):
            closed = completed  # the review closes the round
        returned = None
        if r.state == Status.RETURNED:
            returned = closed = r.closed_at or r.signed_at or at
        # An open clock: the steps that fell due before the import are marked fired now, so
        # the sweep sends no urges for the past; the later ones fire as usual.
        open_clock = r.state in (Status.DISPATCHED, Status.SIGNED)
        now = self.now

        def fired(step_at: datetime, running: bool) -> datetime | None:
            return now if open_clock and running and step_at <= now else None

        sign_running = signed is None
        return {
            "ticket_id": tid, "department_code": lead, "role": "lead",
            "status": status, "dispatched_at": at,
            "auto_dispatched": False,
            "sign_deadline": sign, "sign_warn_at": sign_warn, "signed_at": signed,
            "complete_deadline": complete, "complete_warn_at": complete_warn,
            "completed_at": completed, "deadline_provisional": p1 or p2,
            "sign_limit": self._shared(("limit", sign_limit), sign_limit.model_dump),
            "complete_limit": self._shared(("limit", complete_limit), complete_limit.model_dump),
            "extensions_used": 0, "result": r.result, "returned_at": returned,
            "return_reason": "原系统退单" if returned else None, "closed_at": closed,
            "sign_warned_at": fired(sign_warn, sign_running),
            "sign_overdue_at": fired(sign, sign_running),
            "complete_warned_at": fired(complete_warn, True),
            "complete_overdue_at": fired(complete, True),
            # Escalation (supervision past 5 working days) is not fired for the past either.
            "escalated_at": fired(complete, True),
        }

    def _events(self, tid: int, ticket: dict[str, Any], r: HistoryRow, lead: str | None,
                routing: Routing, assignment_id: int | None) -> list[dict[str, Any]]:
        imported = {"ref": r.ref, "file": self.source, "row": r.row}
        out = [{"ticket_id": tid, "at": r.created_at, "actor_role": "system",
                "action": "intake", "from_status": None, "to_status": Status.NEW,
                "reason": "历史工单导入",
                "payload": {"channel": r.channel, "imported": imported,
                            "location_flags": ticket["location_flags"],
                            "location": {"cell": ticket["cell_code"],
                                         "community": ticket["community_code"],
                                         "street": ticket["street_code"],
                                         "grid_version": ticket["grid_version"]},
                            "routing": ticket["routing"], "repeat_candidates": []}}]
        at = r.dispatched_at or r.created_at
        for action, frm, to in STORIES[r.state]:
            payload: dict[str, Any] = {"imported": True}
            when = at
            if action == "answer":
                when = r.closed_at or r.created_at
                payload |= {"answer": r.result, "article_id": None, "article_version": None}
            elif action == "void":
                when = r.closed_at or r.created_at
            elif action == "dispatch":
                payload |= {"dispatched_by": "import", "lead": lead, "co_handlers": [],
                            "grid_worker": None,
                            "assignment_ids": [assignment_id] if assignment_id else [],
                            "type": r.type, "category": r.category, "urgency": r.urgency,
                            "routing_overridden": routing.lead is not None
                            and routing.lead != lead,
                            "redispatch": False, "supervised": False}
            elif action == "sign":
                when = r.signed_at or at
                payload |= {"assignment_id": assignment_id, "department": lead, "role": "lead"}
            elif action == "return":
                when = r.closed_at or r.signed_at or at
                payload |= {"assignment_id": assignment_id, "department": lead, "role": "lead"}
            elif action == "complete":
                when = r.completed_at or at
                payload |= {"assignment_id": assignment_id, "department": lead, "role": "lead",
                            "result": r.result}
            elif action == "review_accept":
                when = r.completed_at or at
                payload |= {"callback_needed": not r.anonymous and r.citizen_phone is not None}
            elif action == "callback":
                when = r.callback_at or r.completed_at or at
                payload |= {"reached": True, "satisfaction": r.satisfaction,
                            "resolved": r.resolved, "via": "import",
                            "previous_lead": lead}
            out.append(self._event(tid, when, action, frm, to, payload))
        if r.state == Status.ARCHIVED:
            when = r.callback_at or r.closed_at or r.completed_at or at
            if r.satisfaction == UNREACHABLE:
                out.append(self._event(tid, when, "callback", Status.REVIEWED, Status.ARCHIVED,
                                       {"imported": True, "reached": False, "attempt": 1,
                                        "unreachable": True, "via": "import"}))
            elif r.satisfaction is not None:
                out.append(self._event(tid, when, "callback", Status.REVIEWED, Status.ARCHIVED,
                                       {"imported": True, "reached": True,
                                        "satisfaction": r.satisfaction,
                                        "resolved": r.resolved, "via": "import"}))
            else:
                out.append(self._event(tid, r.closed_at or when, "close_without_callback",
                                       Status.REVIEWED, Status.ARCHIVED, {"imported": True}))
        return out

    @staticmethod
    def _event(tid: int, at: datetime, action: str, frm: str, to: str,
               payload: dict[str, Any]) -> dict[str, Any]:
        return {"ticket_id": tid, "at": at, "actor_role": "system",
                "action": action, "from_status": frm, "to_status": to, "reason": None,
                "payload": payload}


def import_history(session: Session, rows: Sequence[tuple[int, dict[str, str]]], *,
                   mapping: HistoryMapping, grid: HistoryGrid, now: datetime, source: str,
                   commit: bool = True, progress: Progress | None = None) -> HistoryReport:
    """Check every row; when none is rejected (and `commit`), write the rows not imported
    before, in the caller's transaction (the caller commits, then rebuilds the rollups). A
    handled ticket without a department in the file takes the catalogue's lead; with neither,
    the row is rejected."""
    started = time.perf_counter()
    report = HistoryReport(rows=len(rows))
    good, report.rejected = check_rows(session, rows, mapping, grid, now, progress)
    report.phases["check"] = time.perf_counter() - started
    if report.rejected:
        return report
    done = _imported_refs(session, [r.ref for r in good])
    fresh = [r for r in good if r.ref not in done]
    report.skipped = len(good) - len(fresh)
    if not fresh:
        return report
    if progress is not None:
        progress("定位", 0, len(fresh))
    locations = _locate_all(fresh, grid)
    routes: dict[tuple[Any, ...], Routing] = {}
    leads: list[tuple[Routing, str | None]] = []
    for r, loc in zip(fresh, locations, strict=True):
        key = (r.category, loc.cell, loc.community, loc.street, loc.district)
        routing = routes.get(key)
        if routing is None:
            routing = routes[key] = grid.route(r.category, loc)
        lead = (r.department or routing.lead) if r.state in HANDLED else r.department
        if r.state in HANDLED and lead is None:
            report.rejected.append(RejectedRow(
                r.row, "“承办单位”不能为空：该工单已派单，但文件未给出承办单位，派单目录也没有"
                       "对应的主办单位", FIELD_NAMES["department"]))
        leads.append((routing, lead))
    if report.rejected:
        return report
    if not commit:
        report.imported = len(fresh)
        return report
    report.phases["locate_route"] = time.perf_counter() - started - report.phases["check"]
    numbers = _reserve_numbers(session, fresh)
    clocks = _Clocks(session, get_time_limits(session))
    clocks.read_years(min(r.created_at for r in fresh), now)
    sink = _Sink(session)
    sink.relax_commit()
    sink.reserve(_table(Ticket), len(fresh))
    sink.reserve(_table(Assignment), sum(
        1 for r, (_, lead) in zip(fresh, leads, strict=True) if r.state in HANDLED and lead))
    sink.reserve(_table(Event), sum(_event_count(r) for r in fresh))
    writer = _Writer(sink, now, clocks, source)
    sink.start()
    try:
        for i, (r, loc, (routing, lead)) in enumerate(zip(fresh, locations, leads,
                                                          strict=True)):
            writer.ticket_row(r, numbers[i], loc, routing, lead)
            report.by_state[r.state] = report.by_state.get(r.state, 0) + 1
            if len(writer.tickets) >= BATCH:
                writer.flush()
                if progress is not None:
                    progress("写入", i + 1, len(fresh))
        writer.flush()
    finally:
        sink.close()
    if progress is not None:
        progress("写入", len(fresh), len(fresh))
    report.imported = len(fresh)
    report.committed = True
    report.seconds = time.perf_counter() - started
    report.phases["write"] = (report.seconds - report.phases["check"]
                              - report.phases["locate_route"])
    report.phases["write_database"] = sink.database_seconds
    return report


def count_imported(session: Session) -> int:
    """How many tickets came from an old system."""
    return session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.import_ref.is_not(None))) or 0

