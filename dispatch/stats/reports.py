"""Periodic lists (周巡检, 月点评, 季通报): overdue, reopened and supervised tickets by department,
and the period's two call rates (15秒接通率, 漏接回拨率).

A list covers one complete local period (Asia/Shanghai dates, the end day included). An
assignment is overdue in the period when its sign-for or completion deadline fell in it and was
missed: signed or completed after the deadline, returned or closed after it without doing so,
or still not done at the time the list is built. Reopened means a callback event that sent the
ticket to REOPENED in the period; supervised, a `supervise` event in the period. The queries
here only read (the calendar may fill in a missing year); rendering and files live in `web/`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from dispatch.calls.board import call_metrics
from dispatch.core.models import Assignment, CalendarDay, Category, Event, Ticket
from dispatch.core.ports import Directory
from dispatch.core.vocab import Status
from dispatch.stats.definitions import DateRange
from dispatch.tickets.calendar import LOCAL_TZ, ensure_years

NO_DEPARTMENT = ""  # supervised before any dispatch: listed under 未派单


class PeriodKind(StrEnum):
    """How long a periodic list's period is."""

    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"


@dataclass(frozen=True)
class Period(DateRange):
    """A complete local period of a kind: `start` and `end` are Asia/Shanghai dates, both
    included (the first and the last instant: `starts_at`, `ends_before`)."""

    kind: PeriodKind = PeriodKind.WEEK

    def contains(self, at: datetime) -> bool:
        """Whether an instant lies in the period."""
        return self.starts_at <= at < self.ends_before


def _month_start(day: date, back: int) -> date:
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def _next_month(day: date, months: int) -> date:
    return _month_start(day, -months)


def period_starting(kind: str, start: date) -> Period:
    """The period of `kind` that begins on `start`; ValueError if no such period begins then."""
    kind = PeriodKind(kind)
    if kind == PeriodKind.WEEK:
        if start.weekday() != 0:
            raise ValueError(f"a week starts on a Monday, not on {start.isoformat()}")
        return Period(start, start + timedelta(days=6), kind)
    months = 1 if kind == PeriodKind.MONTH else 3
    if start.day != 1 or (kind == PeriodKind.QUARTER and start.month % 3 != 1):
        raise ValueError(f"no {kind} starts on {start.isoformat()}")
    return Period(start, _next_month(start, months) - timedelta(days=1), kind)


def period_for(kind: str, day: date) -> Period:
    """The last complete period of `kind` before `day` (the list generated on `day`)."""
    kind = PeriodKind(kind)
    if kind == PeriodKind.WEEK:
        monday = day - timedelta(days=day.weekday())
        return period_starting(kind, monday - timedelta(days=7))
    if kind == PeriodKind.MONTH:
        return period_starting(kind, _month_start(day, 1))
    quarter_start = date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return period_starting(kind, _month_start(quarter_start, 3))


def due_kinds(day: date) -> list[PeriodKind]:
    """The lists to generate on a local day: Monday → week, the 1st → month, 1 Jan/Apr/Jul/Oct
    → quarter."""
    kinds = []
    if day.weekday() == 0:
        kinds.append(PeriodKind.WEEK)
    if day.day == 1:
        kinds.append(PeriodKind.MONTH)
        if day.month % 3 == 1:
            kinds.append(PeriodKind.QUARTER)
    return kinds


# ---------------------------------------------------------------- rows


class Clock(StrEnum):
    """Which clock of an assignment was missed."""

    SIGN = "sign"
    COMPLETE = "complete"


class Ending(StrEnum):
    """How a missed clock ended, as of the time the list was built."""

    LATE = "late"  # signed or completed after the deadline
    RETURNED = "returned"  # returned after the deadline without signing or completing
    CLOSED = "closed"  # closed (cancelled) after the deadline without signing or completing
    OPEN = "open"  # still not done


@dataclass(frozen=True)
class OverdueRow:
    """One missed deadline of one assignment."""

    ticket_number: str
    category_code: str | None
    category_name: str | None
    department_code: str
    department_name: str
    role: str
    clock: Clock
    deadline: datetime
    stopped_at: datetime | None  # when the clock stopped; None: still running at `now`
    ending: Ending
    late_hours: float
    late_working_days: int  # whole working days elapsed after the deadline's day
    status: str


@dataclass(frozen=True)
class ReopenedRow:
    """A callback that sent a ticket back for handling (重办)."""

    ticket_number: str
    category_code: str | None
    category_name: str | None
    department_code: str
    department_name: str
    at: datetime
    satisfaction: str | None
    resolved: bool | None
    status: str


@dataclass(frozen=True)
class SupervisedRow:
    """A supervision (督办) of a ticket, automatic or by a supervisor."""

    ticket_number: str
    category_code: str | None
    category_name: str | None
    department_code: str
    department_name: str
    at: datetime
    automatic: bool
    reason: str | None
    deadline: datetime | None
    status: str


@dataclass(frozen=True)
class DepartmentTotals:
    """One department's counts, with its place in the ranking (1 = most overdue)."""

    rank: int
    department_code: str
    department_name: str
    overdue: int
    sign_overdue: int
    complete_overdue: int
    reopened: int
    supervised: int


@dataclass(frozen=True)
class PeriodicList:
    """Everything one periodic list shows."""

    period: Period
    generated_at: datetime
    overdue: tuple[OverdueRow, ...]
    reopened: tuple[ReopenedRow, ...]
    supervised: tuple[SupervisedRow, ...]
    departments: tuple[DepartmentTotals, ...]
    # 15秒接通率 and 漏接回拨率 of the period, from the call records (dispatch/calls/board.py).
    calls: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- building


def _category_names(session: Session) -> dict[str, str]:
    """Category code → full path name (城市管理 > 市容环境 > 占道经营)."""
    rows = {c.code: (c.name, c.parent_code) for c in session.scalars(select(Category))}

    def path(code: str) -> str:
        parts, seen = [], set()
        current: str | None = code
        while current in rows and current not in seen:
            seen.add(current)
            name, current = rows[current]
            parts.append(name)
        return " > ".join(reversed(parts))

    return {code: path(code) for code in rows}


class _Names:
    def __init__(self, directory: Directory) -> None:
        self._directory = directory

    def __call__(self, code: str) -> str:
        if code == NO_DEPARTMENT:
            return "未派单"
        dept = self._directory.department(code)
        return dept.name if dept else code


class _WorkingDays:
    """Counts working days strictly between two local dates, from the calendar table."""

    def __init__(self, session: Session, spans: Iterable[tuple[date, date]]) -> None:
        spans = list(spans)
        self._days: list[date] = []
        if not spans:
            return
        first = min(a for a, _ in spans)
        last = max(b for _, b in spans)
        ensure_years(session, range(first.year, last.year + 1))
        self._days = list(session.scalars(
            select(CalendarDay.day).where(CalendarDay.day > first, CalendarDay.day < last,
                                          CalendarDay.working.is_(True))))

    def between(self, after: date, before: date) -> int:
        return sum(1 for d in self._days if after < d < before)


def _local_day(at: datetime) -> date:
    return at.astimezone(LOCAL_TZ).date()


def _missed(a: Assignment, clock: Clock, now: datetime) -> tuple[datetime, datetime | None,
                                                                   Ending] | None:
    """(deadline, stopped_at, ending) when this clock was missed, else None."""
    deadline = a.sign_deadline if clock == Clock.SIGN else a.complete_deadline
    done = a.signed_at if clock == Clock.SIGN else a.completed_at
    if done is not None:
        return (deadline, done, Ending.LATE) if done > deadline else None
    if a.returned_at is not None:
        return (deadline, a.returned_at, Ending.RETURNED) if a.returned_at > deadline else None
    if a.closed_at is not None:
        return (deadline, a.closed_at, Ending.CLOSED) if a.closed_at > deadline else None
    return (deadline, None, Ending.OPEN) if now > deadline else None


def _lead_at(ticket: Ticket, at: datetime) -> str:
    """The lead department of a ticket at an instant (the latest lead dispatched by then)."""
    leads = [a for a in ticket.assignments if a.role == "lead" and a.dispatched_at <= at]
    return leads[-1].department_code if leads else NO_DEPARTMENT


def build_list(session: Session, period: Period, now: datetime,
               directory: Directory) -> PeriodicList:
    """The periodic list of `period` as the data stand at `now`."""
    begin, end = period.starts_at, period.ends_before
    categories = _category_names(session)
    names = _Names(directory)
    a = Assignment
    candidates = session.execute(
        select(a, Ticket).join(Ticket, Ticket.id == a.ticket_id)
        .where(or_(and_(a.sign_deadline >= begin, a.sign_deadline < end),
                   and_(a.complete_deadline >= begin, a.complete_deadline < end)))
        .order_by(a.id)
    ).all()
    missed = []
    for asg, ticket in candidates:
        for clock in Clock:
            deadline = asg.sign_deadline if clock == Clock.SIGN else asg.complete_deadline
            if not begin <= deadline < end:
                continue
            found = _missed(asg, clock, now)
            if found is not None:
                missed.append((asg, ticket, clock, *found))
    working = _WorkingDays(session, [(_local_day(d), _local_day(s or now))
                                     for *_, d, s, _e in missed])
    overdue = []
    for asg, ticket, clock, deadline, stopped, ending in missed:
        until = stopped or now
        overdue.append(OverdueRow(
            ticket.number, ticket.category_code, categories.get(ticket.category_code or ""),
            asg.department_code, names(asg.department_code), asg.role, clock, deadline,
            stopped, ending, round((until - deadline).total_seconds() / 3600, 1),
            working.between(_local_day(deadline), _local_day(until)), ticket.status))
    overdue.sort(key=lambda r: (r.department_code, -r.late_hours, r.ticket_number, r.clock))

    events = session.execute(
        select(Event, Ticket).join(Ticket, Ticket.id == Event.ticket_id)
        .where(Event.at >= begin, Event.at < end,
               or_(and_(Event.action == "callback", Event.to_status == Status.REOPENED),
                   Event.action == "supervise"))
        .order_by(Event.id)
    ).all()
    reopened, supervised = [], []
    for event, ticket in events:
        category = categories.get(ticket.category_code or "")
        payload = event.payload or {}
        if event.action == "callback":
            code = payload.get("previous_lead") or _lead_at(ticket, event.at)
            reopened.append(ReopenedRow(
                ticket.number, ticket.category_code, category, code, names(code), event.at,
                payload.get("satisfaction"), payload.get("resolved"), ticket.status))
        else:
            code = _lead_at(ticket, event.at)
            deadline = payload.get("deadline")
            supervised.append(SupervisedRow(
                ticket.number, ticket.category_code, category, code, names(code), event.at,
                event.actor_role == "system", event.reason,
                datetime.fromisoformat(deadline) if deadline else None, ticket.status))
    reopened.sort(key=lambda r: (r.department_code, r.at))
    supervised.sort(key=lambda r: (r.department_code, r.at))
    return PeriodicList(period, now, tuple(overdue), tuple(reopened), tuple(supervised),
                        _ranking(overdue, reopened, supervised, names),
                        call_metrics(session, period.start, period.end, now))


def _ranking(overdue: list[OverdueRow], reopened: list[ReopenedRow],
             supervised: list[SupervisedRow], names: _Names) -> tuple[DepartmentTotals, ...]:
    codes = ({r.department_code for r in overdue} | {r.department_code for r in reopened}
             | {r.department_code for r in supervised})
    counts = []
    for code in codes:
        sign = sum(1 for r in overdue if r.department_code == code and r.clock == Clock.SIGN)
        complete = sum(1 for r in overdue
                       if r.department_code == code and r.clock == Clock.COMPLETE)
        counts.append((code, sign, complete,
                       sum(1 for r in reopened if r.department_code == code),
                       sum(1 for r in supervised if r.department_code == code)))
    # Most overdue first; then most reopened and supervised; the code keeps the order stable.
    counts.sort(key=lambda c: (-(c[1] + c[2]), -c[3], -c[4], c[0]))
    return tuple(DepartmentTotals(i, code, names(code), sign + complete, sign, complete, re, su)
                 for i, (code, sign, complete, re, su) in enumerate(counts, start=1))
