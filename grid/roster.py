"""The grid workers' duty roster as the admin reads and loads it: a page of duties with names
(filtered by area and worker), the week view (for each cell, or each worker, who is on duty
which day of the week and when), and the spreadsheet import.

The roster repeats every week: a duty holds ISO weekdays and a local time window, no dates, so
the week view is the same for every week. The import checks each row with the one check of a
duty (`grid.duties.check_duty`) after turning what a person types into codes: a cell by its
code or its name, a worker by username or display name, 周一至周五 or 工作日 into ISO weekdays,
8:00 or an Excel time into HH:MM. It is all or nothing (`dispatch.core.imports`)."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any

from pydantic import Field, StringConstraints
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from dispatch.core.audit import record_change
from dispatch.core.commands import Code, Strict
from dispatch.core.errors import InvalidInput
from dispatch.core.imports import ImportReport, read_sheet, records, run_import
from dispatch.core.models import User
from dispatch.core.vocab import Role
from grid.catalogue import HHMM, Note
from grid.duties import (
    WEEKDAY_NAMES,
    add_roster_entry,
    check_duty,
    duty_key,
    roster_view,
    weekdays_text,
)
from grid.locator import GridIndex
from grid.models import CELL, RosterEntry

# Spreadsheet headings → fields (the fields of POST /admin/roster).
HEADINGS = {"网格": "cell", "网格员": "username", "星期": "weekdays", "开始": "starts",
            "结束": "ends", "备注": "note"}
DAY_NUMBERS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "日": 7, "天": 7}
DAY_WORDS = {"每天": "1234567", "全周": "1234567", "全天": "1234567", "工作日": "12345",
             "周末": "67", "双休日": "67"}
DAY_RANGE = re.compile(r"^(?:周|星期|礼拜)?([一二三四五六日天1-7])\s*(?:至|到|-|~|—|–)\s*"
                       r"(?:周|星期|礼拜)?([一二三四五六日天1-7])$")
DAY_ONE = re.compile(r"^(?:周|星期|礼拜)?([一二三四五六日天1-7])$")
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[ T](\d{1,2}:\d{2}(?::\d{2})?)$")
CLOCK = re.compile(r"^(\d{1,2})(?:[:：.](\d{2}))?(?:[:：]\d{2})?\s*(?:点|时)?$")


# ---------------------------------------------------------------- what a person types


def parse_weekdays(text: str) -> str:
    """ISO weekdays from 周一至周五, 工作日, 每天, 周六、周日, 1-5 or 135 ("" → every day)."""
    raw = text.strip().replace(" ", "")
    if not raw:
        return "1234567"
    if raw in DAY_WORDS:
        return DAY_WORDS[raw]
    if raw.isdigit():
        if not set(raw) <= set("1234567") or len(set(raw)) != len(raw):
            raise InvalidInput(f"weekdays: “{text}”不是星期（1 = 周一 … 7 = 周日，每天只写一次）",
                               field="weekdays")
        return "".join(sorted(raw))
    days: set[int] = set()
    for part in re.split(r"[、,，;；/]", raw):
        if not part:
            continue
        if part in DAY_WORDS:
            days.update(int(d) for d in DAY_WORDS[part])
            continue
        span, one = DAY_RANGE.match(part), DAY_ONE.match(part)
        if span:
            first, last = (_day(span.group(1)), _day(span.group(2)))
            if first > last:
                raise InvalidInput(f"weekdays: “{part}”的起止颠倒了", field="weekdays")
            days.update(range(first, last + 1))
        elif one:
            days.add(_day(one.group(1)))
        else:
            raise InvalidInput(f"weekdays: 看不懂“{text}”，请写“周一至周五”“周六、周日”“每天”"
                               "或数字 1–7", field="weekdays")
    return "".join(str(d) for d in sorted(days))


def _day(token: str) -> int:
    return int(token) if token.isdigit() else DAY_NUMBERS[token]


def parse_clock(text: str, field: str, default: str) -> str:
    """HH:MM from 8:00, 08:00:00, 8点, 20.30 or an Excel time (a fraction of a day)."""
    raw = text.strip()
    if not raw:
        return default
    stamp = STAMP.match(raw)  # an Excel date-time cell: keep its time of day
    if stamp:
        raw = stamp.group(1)
    match = CLOCK.match(raw)
    hour, minute = (int(match.group(1)), int(match.group(2) or 0)) if match else (99, 99)
    if hour > 23 or minute > 59:
        try:
            fraction = float(raw)
        except ValueError:
            fraction = -1.0
        if 0 <= fraction < 1:  # an unformatted Excel time: a fraction of a day
            minutes = round(fraction * 24 * 60)
            hour, minute = minutes // 60 % 24, minutes % 60
        else:
            label = "开始" if field == "starts" else "结束"
            raise InvalidInput(f"{field}: {label}时间“{text}”不是时刻（如 08:00）", field=field)
    return f"{hour:02d}:{minute:02d}"


# ---------------------------------------------------------------- lookups


@dataclass(frozen=True)
class Workers:
    """The grid workers by username and by display name (a name two share is ambiguous)."""

    by_username: dict[str, User]
    by_name: dict[str, list[User]]

    @classmethod
    def load(cls, session: Session) -> Workers:
        users = list(session.scalars(select(User).where(User.role == Role.GRID_WORKER)))
        by_name: dict[str, list[User]] = defaultdict(list)
        for u in users:
            by_name[u.display_name].append(u)
        return cls({u.username: u for u in users}, dict(by_name))

    def username(self, text: str) -> str:
        """The username a person meant by a username or a display name."""
        if text in self.by_username:
            return text
        named = self.by_name.get(text, [])
        if len(named) > 1:
            raise InvalidInput(f"username: 有 {len(named)} 个网格员叫“{text}”"
                               f"（{'、'.join(u.username for u in named[:5])}），请写用户名",
                               field="username")
        if named:
            return named[0].username
        raise InvalidInput(f"username: 没有网格员“{text}”（请写用户名或姓名）", field="username")


def cell_names(index: GridIndex) -> dict[str, list[str]]:
    """Cell codes by cell name (names repeat across communities: 第1网格)."""
    out: dict[str, list[str]] = defaultdict(list)
    for code in index.cell_codes:
        out[index.areas[code].name].append(code)
    return dict(out)


def resolve_cell(index: GridIndex | None, names: dict[str, list[str]], text: str) -> str:
    """The cell code a person meant by a code or a name of the active grid."""
    if index is not None and text in index.areas and index.areas[text].level == CELL:
        return text
    codes = names.get(text, [])
    if len(codes) > 1:
        raise InvalidInput(f"cell: 有 {len(codes)} 个网格叫“{text}”，请写网格编码"
                           f"（如 {codes[0]}）", field="cell")
    if codes:
        return codes[0]
    raise InvalidInput(f"cell: 当前网格中没有网格“{text}”（请写网格编码或名称）", field="cell")


def cells_under(index: GridIndex, area: str) -> list[str]:
    """The cells of an area of the active grid (a street, a community or a cell), in order."""
    if area not in index.areas:
        raise InvalidInput(f"area: 当前网格中没有区域“{area}”", field="area")
    out = []
    for code in index.cell_codes:
        current: str | None = code
        while current is not None and current != area:
            info = index.areas.get(current)
            current = info.parent if info else None
        if current == area:
            out.append(code)
    return sorted(out)


# ---------------------------------------------------------------- one duty


class DutyIn(Strict):
    """A duty as the admin types it (POST /admin/roster)."""

    cell: Code = Field(description="the cell's code or name")
    username: Code = Field(description="the grid worker's username or display name")
    weekdays: Annotated[str, StringConstraints(strip_whitespace=True, max_length=30)] = Field(
        "1234567", description="ISO weekdays (12345) or words: 周一至周五, 工作日, 周六、周日")
    starts: HHMM = "08:00"
    ends: HHMM = "20:00"
    note: Note | None = None


def add_duty(session: Session, data: dict[str, Any], index: GridIndex | None,
             actor_id: int | None) -> RosterEntry:
    """Add a duty whose cell is given by code or name, whose worker by username or display name
    and whose days as digits or words (周一至周五), as a person types them; then the same checks
    and record as `grid.duties.add_roster_entry`."""
    duty = dict(data) if isinstance(data, dict) else {}
    cell, worker, days = duty.get("cell"), duty.get("username"), duty.get("weekdays")
    if isinstance(days, str) and not days.strip().isdigit():
        duty["weekdays"] = parse_weekdays(days)  # 周一至周五, 工作日, "" for every day
    if isinstance(cell, str) and cell.strip() and index is not None:
        if cell.strip() not in index.areas:
            duty["cell"] = resolve_cell(index, cell_names(index), cell.strip())
    if isinstance(worker, str) and worker.strip():
        text = worker.strip()
        known = session.scalar(select(User.id).where(User.username == text))
        if known is None:
            named = list(session.scalars(select(User).where(
                User.display_name == text, User.role == Role.GRID_WORKER)))
            workers = Workers({u.username: u for u in named}, {text: named} if named else {})
            duty["username"] = workers.username(text)
    return add_roster_entry(session, duty, index, actor_id)


# ---------------------------------------------------------------- the import


def import_roster(session: Session, data: bytes, filename: str, index: GridIndex | None, *,
                  actor_id: int | None, dry_run: bool) -> ImportReport[dict[str, Any]]:
    """Check every row of a roster sheet (网格, 网格员, 星期, 开始, 结束, 备注) and, unless a dry
    run or a row is rejected, add every duty in one go, recorded as one change of the actor."""
    filename = filename.replace("\x00", "")  # stored in the record of the change
    rows = records(read_sheet(data, filename), HEADINGS)
    workers = Workers.load(session)
    names = cell_names(index) if index is not None else {}
    users: dict[str, User | None] = dict(workers.by_username)
    seen: dict[tuple[str, int, str, str, str], int] = {}
    existing = {duty_key({"cell_code": e.cell_code, "user_id": e.user_id,
                          "weekdays": e.weekdays, "starts": e.starts, "ends": e.ends}): e.id
                for e in session.scalars(select(RosterEntry))}
    numbers = iter(number for number, _ in rows)

    def check(values: dict[str, str]) -> dict[str, Any]:
        number = next(numbers)
        for column in ("cell", "username"):
            if not values.get(column, "").strip():
                heading = "网格" if column == "cell" else "网格员"
                raise InvalidInput(f"{column}: “{heading}”不能为空", field=column)
        duty = {"cell": resolve_cell(index, names, values["cell"].strip()),
                "username": workers.username(values["username"].strip()),
                "weekdays": parse_weekdays(values.get("weekdays", "")),
                "starts": parse_clock(values.get("starts", ""), "starts", "08:00"),
                "ends": parse_clock(values.get("ends", ""), "ends", "20:00"),
                "note": values.get("note", "").strip() or None}
        row = check_duty(duty, index, users)
        key = duty_key(row)
        if key in existing:
            raise InvalidInput(f"username: 这条值班已在值班表中（#{existing[key]}）",
                               field="username")
        if key in seen:
            raise InvalidInput(f"username: 与第 {seen[key]} 行重复", field="username")
        seen[key] = number
        return {**row, "username": duty["username"]}

    accepted: list[dict[str, Any]] = []
    report = run_import(rows, check, accepted.append, commit=not dry_run)
    if report.committed:
        session.execute(RosterEntry.__table__.insert(),
                        [{k: v for k, v in r.items() if k != "username"} for r in accepted])
        record_change(session, actor_id, "roster", filename[:120] or "import", "import", None, {
            "file": filename, "added": len(accepted),
            "duties": [f"{r['cell_code']} {r['username']} {r['weekdays']} "
                       f"{r['starts']}-{r['ends']}" for r in accepted]})
        session.flush()
    return report


# ---------------------------------------------------------------- reading


def _users_matching(session: Session, worker: str) -> Select[tuple[int]]:
    return select(User.id).where(or_(User.username == worker,
                                     User.display_name.contains(worker, autoescape=True)))


def roster_page(session: Session, index: GridIndex | None, *, cell: str | None = None,
                username: str | None = None, area: str | None = None, worker: str | None = None,
                page: int = 1, per_page: int = 100) -> dict[str, Any]:
    """A page of duties (by cell, then start time) with names; filters: a cell, a username, an
    area of the active grid (its cells), a worker's username or part of a name."""
    stmt = select(RosterEntry, User.username, User.display_name) \
        .join(User, User.id == RosterEntry.user_id)
    if cell:
        stmt = stmt.where(RosterEntry.cell_code == cell)
    if username:
        stmt = stmt.where(User.username == username)
    if area:
        if index is None:
            raise InvalidInput("area: 尚未导入网格", field="area")
        stmt = stmt.where(RosterEntry.cell_code.in_(cells_under(index, area)))
    if worker:
        stmt = stmt.where(RosterEntry.user_id.in_(_users_matching(session, worker)))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(stmt.order_by(RosterEntry.cell_code, RosterEntry.starts,
                                         RosterEntry.id)
                           .limit(per_page).offset((page - 1) * per_page)).all()
    return {"items": [roster_view(e, u, name, index) for e, u, name in rows], "total": total,
            "page": page, "per_page": per_page}


def _monday(day: date) -> date:
    return day - timedelta(days=day.isoweekday() - 1)


def roster_week(session: Session, index: GridIndex | None, *, by: str = "cell",
                area: str | None = None, worker: str | None = None, week: date,
                page: int = 1, per_page: int = 50) -> dict[str, Any]:
    """The week view: for each cell (`by` cell, every cell of the area, the unrostered ones
    too) or each grid worker (`by` worker), the duties of each day, Monday to Sunday. The
    roster repeats weekly; `week` (any day of it) only dates the columns."""
    if index is None:
        raise InvalidInput("area: 尚未导入网格", field="area")
    if not date.min + timedelta(days=7) <= week <= date.max - timedelta(days=7):
        raise InvalidInput("week: 日期超出范围", field="week")
    monday = _monday(week)
    days = [{"weekday": d + 1, "name": WEEKDAY_NAMES[d],
             "date": (monday + timedelta(days=d)).isoformat()} for d in range(7)]
    scope = cells_under(index, area) if area else sorted(index.cell_codes)
    matching = _users_matching(session, worker) if worker else None
    if by == "cell":
        if matching is not None:
            rostered = set(session.scalars(select(RosterEntry.cell_code).distinct()
                                           .where(RosterEntry.user_id.in_(matching))))
            scope = [c for c in scope if c in rostered]
        total = len(scope)
        keys = scope[(page - 1) * per_page:page * per_page]
        stmt = select(RosterEntry, User.username, User.display_name, User.active) \
            .join(User, User.id == RosterEntry.user_id) \
            .where(RosterEntry.cell_code.in_(keys))
        if matching is not None:
            stmt = stmt.where(RosterEntry.user_id.in_(matching))
        grouped: dict[str, list[Any]] = defaultdict(list)
        for row in session.execute(stmt.order_by(RosterEntry.starts, RosterEntry.id)):
            grouped[row[0].cell_code].append(row)
        items = [_week_row(index, "cell", code, index.areas[code].name, grouped[code])
                 for code in keys]
    elif by == "worker":
        users = select(User.id, User.username, User.display_name) \
            .where(User.role == Role.GRID_WORKER)
        if matching is not None:
            users = users.where(User.id.in_(matching))
        if area:
            users = users.where(User.id.in_(select(RosterEntry.user_id).where(
                RosterEntry.cell_code.in_(scope))))
        total = session.scalar(select(func.count()).select_from(users.subquery())) or 0
        people = session.execute(users.order_by(User.display_name, User.username)
                                 .limit(per_page).offset((page - 1) * per_page)).all()
        stmt = select(RosterEntry, User.username, User.display_name, User.active) \
            .join(User, User.id == RosterEntry.user_id) \
            .where(RosterEntry.user_id.in_([p.id for p in people]))
        if area:
            stmt = stmt.where(RosterEntry.cell_code.in_(scope))
        by_user: dict[int, list[Any]] = defaultdict(list)
        for row in session.execute(stmt.order_by(RosterEntry.starts, RosterEntry.cell_code)):
            by_user[row[0].user_id].append(row)
        items = [_week_row(index, "worker", p.username, p.display_name, by_user[p.id])
                 for p in people]
    else:
        raise InvalidInput("by: 须为 cell（按网格）或 worker（按网格员）", field="by")
    return {"by": by, "days": days, "items": items, "total": total, "page": page,
            "per_page": per_page,
            "note": "值班表按星期循环：每周相同，节假日不另排"}


def _week_row(index: GridIndex, by: str, key: str, name: str,
              rows: list[Any]) -> dict[str, Any]:
    days: list[list[dict[str, Any]]] = [[] for _ in range(7)]
    for entry, username, display_name, active in rows:
        area = index.areas.get(entry.cell_code)
        duty = {"id": entry.id, "starts": entry.starts, "ends": entry.ends,
                "overnight": entry.ends < entry.starts, "active": active,
                "username": username, "display_name": display_name,
                "cell": entry.cell_code, "cell_name": area.name if area else entry.cell_code}
        for d in entry.weekdays:
            days[int(d) - 1].append(duty)
    row: dict[str, Any] = {"key": key, "name": name, "days": days,
                           "uncovered": [WEEKDAY_NAMES[i] for i, d in enumerate(days) if not d]}
    if by == "cell":
        area = index.areas.get(key)
        community = index.areas.get(area.parent or "") if area else None
        row["community_name"] = community.name if community else None
    return row


__all__ = ["HEADINGS", "DutyIn", "add_duty", "import_roster", "parse_clock", "parse_weekdays",
           "roster_page", "roster_week", "weekdays_text"]
