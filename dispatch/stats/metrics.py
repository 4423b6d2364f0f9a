"""Leadership metrics (DOMAIN.md "Metrics (leadership)"): their definitions, the reference
computation over the raw tables, and the one entry point the dashboard, the API, the exports
and the reports call (`summary`, `breakdown`, `trend`, `drill_down`).

Figures come from the daily rollups of `dispatch.stats.rollups` by default; `source=RAW` computes
them again from tickets, assignments, extensions and events alone, by plain GROUP BY queries (a
few per figure, formulated on the raw rows independently of the rollups' facts). The two must
agree for any period, filter and grouping (tests/service/test_rollups.py).

Every figure is a `numerator ÷ denominator` of two *parts*, and each part counts *units*: a
ticket, an assignment (a dispatch to one department), a review (an accepted completion), or a
callback (a citizen's answer). A part is dated by its own moment and counted in a period when
that moment's local date (Asia/Shanghai) lies in it, both end days included.

Decisions (DOMAIN.md leaves them open):

- intake: tickets created in P, VOID tickets left out; `void` (created in P, now VOID) is
  reported apart. Merged and 110-transferred tickets are intake.
- direct_answer_rate: tickets of the intake (created in P) with the outcome direct answer.
- repeat_rate: tickets of the intake (created in P) merged into another ticket (`parent_id`
  set: the merge link is the only repeat link a ticket carries).
- completion_rate: "dispatched tickets of P" are the tickets whose *first* dispatch fell in P;
  "reached COMPLETED or later" is their current state COMPLETED, REVIEWED or ARCHIVED (a
  reopened ticket counts again once it is completed again).
- reopen_rate: dispatched tickets of P (as above) reopened by a callback at least once.
- return_rate and extension_rate are about dispatches, so that each counts for the department
  that returned or asked: assignments (lead and co-handler) dispatched in P that were returned,
  or got at least one approved extension ÷ assignments dispatched in P.
- on_time_sign_rate and on_time_completion_rate count assignments (lead and co-handlers: each
  has its own clocks) whose sign-for or completion deadline (as it stands, after extensions)
  fell in P. The clock ends on time when done (signed, completed) by the deadline; it is missed
  when done after it, when the assignment was returned or closed after the deadline without
  doing it (as in the periodic lists of `dispatch.stats.reports`), or when still open at `now` past
  the deadline. A clock stopped before its deadline (returned, or the round closed) and a clock
  still open before its deadline are not counted. Denominator = on time + missed ("completed +
  open past deadline").
- callback_rate: reviews (accepted completions) made in P whose ticket needed a callback (a
  reachable, non-anonymous citizen), and of those, the ones whose callback was concluded:
  the citizen answered, or was declared unreachable after the tries allowed. Each review of a
  reopened ticket counts once.
- satisfaction_rate and resolution_rate count the citizens' answers (callbacks that reached
  them) given in P: satisfied or basically satisfied, resp. resolved ÷ answers. A ticket
  answered twice (dissatisfied, then satisfied after reopening) gives two answers.
- overdue_now: tickets with an active assignment past its sign-for or completion deadline at
  `now` (as `dispatch.tickets.queries.overdue_clause`), whatever the period; it is not in trends. By
  department, a ticket counts for each department holding an overdue assignment on it.
- Breakdowns use each ticket's current channel, type, category, street and cell. The department
  is the one the unit belongs to: a ticket's (intake, direct answer, repeat, dispatched,
  completed, reopened) is its latest lead department; an assignment's is its own; a review's
  and a callback's is the lead department of the round reviewed. Tickets never dispatched have
  no department (shown as `none`).
- Filters: `category` takes its subtree; the value `none` selects units where the dimension is
  not set (no department yet, no cell, …). Rates with a zero denominator are `None`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

from sqlalchemy import and_, case, exists, func, literal, null, or_, select
from sqlalchemy.orm import Session, aliased

from dispatch.core.errors import InvalidInput
from dispatch.core.models import Assignment, Event, Extension, Ticket
from dispatch.core.sqldates import local_date
from dispatch.core.vocab import Outcome, Satisfaction, Status
from dispatch.tickets.calendar import LOCAL_TZ

NONE = "none"  # the filter and breakdown value of a dimension that is not set
DIMENSIONS = ("channel", "type", "category", "department", "street", "cell")
MAX_DAYS = 3660  # the longest period a figure covers (ten years)
MAX_BUCKETS = 400  # the most points a trend has
MAX_PER_PAGE = 100

COMPLETED_OR_LATER = (Status.COMPLETED, Status.REVIEWED, Status.ARCHIVED)
CONCLUDED = (Status.ARCHIVED, Status.REOPENED)  # where a concluding callback leads
SATISFIED = (Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED)

# How a clock (sign-for, completion) of an assignment ended.
ON_TIME, LATE, OPEN = "on_time", "late", "open"


class Unit(StrEnum):
    """What one count of a part is."""

    TICKET = "ticket"
    ASSIGNMENT = "assignment"
    REVIEW = "review"
    CALLBACK = "callback"


@dataclass(frozen=True)
class Part:
    """A count behind the figures: what it counts and by which moment it is dated."""

    name: str
    unit: Unit
    dated_by: str


PARTS: dict[str, Part] = {p.name: p for p in (
    Part("intake", Unit.TICKET, "created"),
    Part("void", Unit.TICKET, "created"),
    Part("direct_answer", Unit.TICKET, "created"),
    Part("repeat", Unit.TICKET, "created"),
    Part("dispatched", Unit.TICKET, "first dispatch"),
    Part("completed", Unit.TICKET, "first dispatch"),
    Part("reopened", Unit.TICKET, "first dispatch"),
    Part("dispatches", Unit.ASSIGNMENT, "dispatch"),
    Part("returned", Unit.ASSIGNMENT, "dispatch"),
    Part("extended", Unit.ASSIGNMENT, "dispatch"),
    Part("sign_on_time", Unit.ASSIGNMENT, "sign-for deadline"),
    Part("sign_due", Unit.ASSIGNMENT, "sign-for deadline"),
    Part("complete_on_time", Unit.ASSIGNMENT, "completion deadline"),
    Part("complete_due", Unit.ASSIGNMENT, "completion deadline"),
    Part("callback_needed", Unit.REVIEW, "review"),
    Part("callback_done", Unit.REVIEW, "review"),
    Part("answered", Unit.CALLBACK, "callback"),
    Part("satisfied", Unit.CALLBACK, "callback"),
    Part("resolved", Unit.CALLBACK, "callback"),
    Part("overdue_now", Unit.TICKET, "now (any period)"),
)}


@dataclass(frozen=True)
class Metric:
    """One figure of DOMAIN.md: numerator ÷ denominator, or a count (no denominator)."""

    name: str
    label: str
    numerator: str
    denominator: str | None = None
    doc: str = ""


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("intake", "受理量", "intake", None, "tickets created in P (void counted apart)"),
    Metric("void", "作废量", "void", None, "tickets created in P that are void"),
    Metric("direct_answer_rate", "直接答复率", "direct_answer", "intake",
           "tickets answered directly ÷ intake"),
    Metric("on_time_sign_rate", "按时签收率", "sign_on_time", "sign_due",
           "assignments signed by their deadline ÷ assignments whose sign deadline fell in P"),
    Metric("completion_rate", "办结率", "completed", "dispatched",
           "dispatched tickets of P that reached COMPLETED or later ÷ dispatched tickets of P"),
    Metric("on_time_completion_rate", "按时办结率", "complete_on_time", "complete_due",
           "completed by deadline ÷ (completed + open past deadline)"),
    Metric("callback_rate", "回访率", "callback_done", "callback_needed",
           "tickets with a recorded callback ÷ tickets reviewed that need a callback"),
    Metric("satisfaction_rate", "满意率", "satisfied", "answered",
           "(satisfied + basically satisfied) ÷ callbacks with an answer"),
    Metric("resolution_rate", "解决率", "resolved", "answered",
           "resolved ÷ callbacks with an answer"),
    Metric("repeat_rate", "重复诉求率", "repeat", "intake", "merged or linked repeats ÷ intake"),
    Metric("return_rate", "退单率", "returned", "dispatches", "returns ÷ dispatched"),
    Metric("extension_rate", "延期率", "extended", "dispatches", "extensions ÷ dispatched"),
    Metric("reopen_rate", "重办率", "reopened", "dispatched", "reopens ÷ dispatched"),
    Metric("overdue_now", "当前超期", "overdue_now", None,
           "tickets past a sign-for or completion deadline now"),
)}

NUMERATOR, DENOMINATOR = "numerator", "denominator"


# ---------------------------------------------------------------- periods and filters


def local_day(at: datetime) -> date:
    """The local (Asia/Shanghai) date of an instant."""
    return at.astimezone(LOCAL_TZ).date()


@dataclass(frozen=True)
class DateRange:
    """A period of whole local days, `start` and `end` both included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise InvalidInput("to: is before from", field="to")
        if (self.end - self.start).days >= MAX_DAYS:
            raise InvalidInput(f"to: a period spans at most {MAX_DAYS} days", field="to")

    @property
    def starts_at(self) -> datetime:
        """The first instant of the period."""
        return datetime.combine(self.start, time(0), tzinfo=LOCAL_TZ)

    @property
    def ends_before(self) -> datetime:
        """The first instant after the period."""
        return datetime.combine(self.end + timedelta(days=1), time(0), tzinfo=LOCAL_TZ)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    def days(self) -> Iterator[date]:
        """Each day of the period, in order."""
        day = self.start
        while day <= self.end:
            yield day
            day += timedelta(days=1)


class Dims(NamedTuple):
    """Where a unit is counted ('' where a dimension is not set)."""

    channel: str
    type: str
    category: str
    department: str
    street: str
    cell: str


def stored(value: str) -> str:
    """A filter value as the dimensions keep it (`none` is the empty string)."""
    return "" if value == NONE else value


def shown(value: str) -> str | None:
    """A kept dimension value as it is shown (the empty string is None)."""
    return value or None


@dataclass(frozen=True)
class Filters:
    """Optional filters on the dimensions; `category` takes its subtree, `none` the unset."""

    channel: str | None = None
    type: str | None = None
    category: str | None = None
    department: str | None = None
    street: str | None = None
    cell: str | None = None

    def items(self) -> list[tuple[str, str]]:
        """(dimension, stored value) of each filter given."""
        return [(d, stored(getattr(self, d))) for d in DIMENSIONS if getattr(self, d) is not None]

    def where(self, columns: Any) -> list[Any]:
        """SQL conditions on a table whose dimension columns carry the dimension names."""
        conds = []
        for dim, value in self.items():
            col = columns[dim]
            if dim == "category" and value:
                escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                conds.append(or_(col == value, col.like(escaped + ".%", escape="\\")))
            else:
                conds.append(col == value)
        return conds


def category_level(filters: Filters) -> int:
    """How deep a breakdown by category goes: one level below the category filtered on."""
    value = filters.category
    return 1 if value is None or value == NONE else value.count(".") + 2


def category_key(code: str, level: int) -> str:
    """A category code cut to `level` levels."""
    return ".".join(code.split(".")[:level]) if code else code


# ---------------------------------------------------------------- figures


@dataclass(frozen=True)
class Figure:
    """One metric: its numerator, its denominator (None for a count) and the rate."""

    numerator: int
    denominator: int | None = None

    @property
    def rate(self) -> float | None:
        """numerator ÷ denominator, as a fraction 0–1 (None for a count or a zero base)."""
        if not self.denominator:
            return None
        return self.numerator / self.denominator

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: `{"value"}` for a count, `{"rate", "numerator", "denominator"}`."""
        if self.denominator is None:
            return {"value": self.numerator}
        rate = self.rate
        return {"rate": None if rate is None else round(rate, 6),
                "numerator": self.numerator, "denominator": self.denominator}


Tally = dict[str, int]


def empty_tally() -> Tally:
    """Every part at zero."""
    return dict.fromkeys(PARTS, 0)


def figures(tally: Tally, *, with_overdue: bool = True) -> dict[str, Figure]:
    """The metrics of a tally, in the order of METRICS."""
    out = {}
    for m in METRICS.values():
        if m.name == "overdue_now" and not with_overdue:
            continue
        if m.denominator is None:
            out[m.name] = Figure(tally.get(m.numerator, 0))
        else:
            out[m.name] = Figure(tally.get(m.numerator, 0), tally.get(m.denominator, 0))
    return out


# ---------------------------------------------------------------- sources


@dataclass(frozen=True)
class DrillItem:
    """One unit behind a figure, with its ticket."""

    ticket_id: int
    number: str
    status: str
    unit: Unit
    ref: int  # ticket, assignment or event id
    day: date | None
    dims: Dims

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"number": self.number, "status": self.status, "unit": str(self.unit),
                "ref": self.ref, "day": self.day.isoformat() if self.day else None,
                **{d: shown(getattr(self.dims, d)) for d in DIMENSIONS}}


@dataclass(frozen=True)
class DrillPage:
    items: list[DrillItem]
    total: int
    page: int
    per_page: int


Group = str | None  # None, "day" or a dimension


class Source(Protocol):
    """Where figures come from: the rollups, or the raw tables."""

    def tally(self, session: Session, span: DateRange, filters: Filters, now: datetime,
              group: Group) -> dict[Any, Tally]:
        """The parts by group key (None when not grouped; a date for "day", each part by
        its own day; a stored dimension value otherwise). overdue_now is left out by day."""
        ...

    def units(self, session: Session, span: DateRange, filters: Filters, now: datetime,
              part: str, page: int, per_page: int) -> DrillPage:
        """A page of the units counted in one part, by day, ticket and unit."""
        ...


# ---------------------------------------------------------------- the raw computation in SQL


def _latest_lead(ticket_id: Any) -> Any:
    a = aliased(Assignment)
    return (select(a.department_code).where(a.ticket_id == ticket_id, a.role == "lead")
            .order_by(a.id.desc()).limit(1).scalar_subquery())


def _lead_before(event: Any) -> Any:
    d = aliased(Event)
    return (select(d.payload["lead"].as_string())
            .where(d.ticket_id == event.ticket_id, d.action == "dispatch", d.id < event.id)
            .order_by(d.id.desc()).limit(1).scalar_subquery())


def _clock_state(deadline: Any, done: Any, now: datetime) -> Any:
    """SQL: how an assignment's clock ended (NULL: not counted)."""
    a = Assignment
    return case(
        (done.is_not(None), case((done <= deadline, ON_TIME), else_=LATE)),
        (a.returned_at.is_not(None), case((a.returned_at > deadline, LATE), else_=None)),
        (a.closed_at.is_not(None), case((a.closed_at > deadline, LATE), else_=None)),
        (deadline < now, LATE),
        else_=None,
    )


def _in(col: Any, span: DateRange) -> Any:
    return and_(col >= span.starts_at, col < span.ends_before)


@dataclass(frozen=True)
class _RawSet:
    """Units of some parts read from the raw tables: a subquery with `ref`, `ticket_id`, `day`
    (local date of the moment the parts are dated by), the dimensions, and a 0/1 column per
    part saying whether the unit counts in it."""

    rows: Any
    unit: Unit
    parts: tuple[str, ...]


def flag(condition: Any) -> Any:
    """SQL: 1 where the condition holds, else 0 (a count by SUM)."""
    return case((condition, 1), else_=0)


def dim_columns(department: Any) -> list[Any]:
    """SQL: the dimension columns of a unit ('' where not set): its ticket's, and the
    department given."""
    return [func.coalesce(Ticket.channel, "").label("channel"),
            func.coalesce(Ticket.type, "").label("type"),
            func.coalesce(Ticket.category_code, "").label("category"),
            func.coalesce(department, "").label("department"),
            func.coalesce(Ticket.street_code, "").label("street"),
            func.coalesce(Ticket.cell_code, "").label("cell")]


def _raw_sets(span: DateRange, now: datetime) -> list[_RawSet]:
    """The units of the period, one set per moment they are dated by (SQL, nothing read)."""
    t, a, e = Ticket, Assignment, Event
    not_void = t.status != Status.VOID
    created = select(
        t.id.label("ref"), t.id.label("ticket_id"), local_date(t.created_at).label("day"),
        *dim_columns(_latest_lead(t.id)),
        flag(not_void).label("intake"), flag(t.status == Status.VOID).label("void"),
        flag(and_(not_void, t.outcome == Outcome.DIRECT_ANSWER)).label("direct_answer"),
        flag(and_(not_void, t.parent_id.is_not(None))).label("repeat"),
    ).where(_in(t.created_at, span))

    first = (select(a.ticket_id, func.min(a.dispatched_at).label("first_at"))
             .group_by(a.ticket_id).subquery())
    reopen = aliased(Event)
    reopened = exists(select(reopen.id).where(
        reopen.ticket_id == t.id, reopen.action == "callback",
        reopen.to_status == Status.REOPENED))
    dispatched = select(
        t.id.label("ref"), t.id.label("ticket_id"), local_date(first.c.first_at).label("day"),
        *dim_columns(_latest_lead(t.id)),
        literal(1).label("dispatched"),
        flag(t.status.in_(COMPLETED_OR_LATER)).label("completed"),
        flag(reopened).label("reopened"),
    ).join(first, first.c.ticket_id == t.id).where(_in(first.c.first_at, span))

    approved = exists(select(Extension.id).where(Extension.assignment_id == a.id,
                                                 Extension.status == "approved"))
    dispatches = select(
        a.id.label("ref"), a.ticket_id, local_date(a.dispatched_at).label("day"),
        *dim_columns(a.department_code),
        literal(1).label("dispatches"), flag(a.returned_at.is_not(None)).label("returned"),
        flag(approved).label("extended"),
    ).join(t, t.id == a.ticket_id).where(_in(a.dispatched_at, span))

    def clock(name: str, deadline: Any, done: Any) -> Any:
        state = _clock_state(deadline, done, now)
        return select(
            a.id.label("ref"), a.ticket_id, local_date(deadline).label("day"),
            *dim_columns(a.department_code),
            flag(state.is_not(None)).label(f"{name}_due"),
            flag(state == ON_TIME).label(f"{name}_on_time"),
        ).join(t, t.id == a.ticket_id).where(_in(deadline, span))

    c = aliased(Event)
    concluded = exists(select(c.id).where(c.ticket_id == e.ticket_id, c.action == "callback",
                                          c.id > e.id, c.to_status.in_(CONCLUDED)))
    needed = func.coalesce(e.payload["callback_needed"].as_boolean(), True).is_(True)
    reviews = select(
        e.id.label("ref"), e.ticket_id, local_date(e.at).label("day"),
        *dim_columns(_lead_before(e)),
        literal(1).label("callback_needed"), flag(concluded).label("callback_done"),
    ).join(t, t.id == e.ticket_id).where(e.action == "review_accept", _in(e.at, span), needed)

    answers = select(
        e.id.label("ref"), e.ticket_id, local_date(e.at).label("day"),
        *dim_columns(_lead_before(e)),
        literal(1).label("answered"),
        flag(e.payload["satisfaction"].as_string().in_(SATISFIED)).label("satisfied"),
        flag(e.payload["resolved"].as_boolean().is_(True)).label("resolved"),
    ).join(t, t.id == e.ticket_id).where(
        e.action == "callback", _in(e.at, span), e.payload["reached"].as_boolean().is_(True))

    return [
        _RawSet(created.subquery(), Unit.TICKET, ("intake", "void", "direct_answer", "repeat")),
        _RawSet(dispatched.subquery(), Unit.TICKET, ("dispatched", "completed", "reopened")),
        _RawSet(dispatches.subquery(), Unit.ASSIGNMENT, ("dispatches", "returned", "extended")),
        _RawSet(clock("sign", a.sign_deadline, a.signed_at).subquery(), Unit.ASSIGNMENT,
                ("sign_due", "sign_on_time")),
        _RawSet(clock("complete", a.complete_deadline, a.completed_at).subquery(),
                Unit.ASSIGNMENT, ("complete_due", "complete_on_time")),
        _RawSet(reviews.subquery(), Unit.REVIEW, ("callback_needed", "callback_done")),
        _RawSet(answers.subquery(), Unit.CALLBACK, ("answered", "satisfied", "resolved")),
    ]


def _overdue_rows(now: datetime) -> Any:
    """Tickets overdue now (any period), a row per department holding an overdue assignment."""
    a = Assignment
    return (select(a.ticket_id.label("ref"), a.ticket_id, *dim_columns(a.department_code))
            .join(Ticket, Ticket.id == a.ticket_id)
            .where(or_(and_(a.status == "dispatched", a.sign_deadline < now),
                       and_(a.status.in_(("dispatched", "signed")),
                            a.complete_deadline < now)))
            .distinct().subquery())


class SqlRawSource:
    """Figures computed from the raw tables at each call by plain GROUP BY queries (the
    reference the rollups are checked against; slow on big data)."""

    def tally(self, session: Session, span: DateRange, filters: Filters, now: datetime,
              group: Group) -> dict[Any, Tally]:
        out: dict[Any, Tally] = defaultdict(empty_tally)

        def count(rows: Any, sums: list[Any]) -> None:
            key = None if group is None else rows.c[group]
            stmt = select(*(() if key is None else (key,)), *sums).where(
                *filters.where(rows.c))
            if key is not None:
                stmt = stmt.group_by(key)
            for row in session.execute(stmt):
                tally = out[row[0] if key is not None else None]
                for part, n in row._mapping.items():
                    if part in PARTS:
                        tally[part] += int(n or 0)

        for raw in _raw_sets(span, now):
            count(raw.rows, [func.sum(raw.rows.c[p]).label(p) for p in raw.parts])
        if group != "day":
            rows = _overdue_rows(now)
            count(rows, [func.count(func.distinct(rows.c.ticket_id)).label("overdue_now")])
        return {k: tally for k, tally in out.items() if any(tally.values())}

    def units(self, session: Session, span: DateRange, filters: Filters, now: datetime,
              part: str, page: int, per_page: int) -> DrillPage:
        if part == "overdue_now":
            rows = _overdue_rows(now)
            # A ticket overdue in several departments is listed once, under the first code.
            per_ticket = (select(rows.c.ref, rows.c.ticket_id, null().label("day"),
                                 *(func.min(rows.c[d]).label(d) for d in DIMENSIONS))
                          .where(*filters.where(rows.c)).group_by(rows.c.ref, rows.c.ticket_id)
                          .subquery())
            chosen, unit, where = per_ticket, Unit.TICKET, []
        else:
            raw = next((r for r in _raw_sets(span, now) if part in r.parts), None)
            if raw is None:
                raise ValueError(f"unknown part {part!r}")
            chosen, unit = raw.rows, raw.unit
            where = [chosen.c[part] == 1, *filters.where(chosen.c)]
        total = session.scalar(select(func.count()).select_from(chosen).where(*where)) or 0
        rows = session.execute(
            select(chosen.c.ref, chosen.c.ticket_id, chosen.c.day, Ticket.number,
                   Ticket.status, *(chosen.c[d] for d in DIMENSIONS))
            .join(Ticket, Ticket.id == chosen.c.ticket_id).where(*where)
            .order_by(chosen.c.day, chosen.c.ticket_id, chosen.c.ref)
            .limit(per_page).offset((page - 1) * per_page))
        items = [DrillItem(r.ticket_id, r.number, r.status, unit, r.ref, r.day,
                           Dims(*(getattr(r, d) for d in DIMENSIONS))) for r in rows]
        return DrillPage(items, total, page, per_page)


RAW = SqlRawSource()


# ---------------------------------------------------------------- the entry points


def _default_source() -> Source:
    from dispatch.stats.rollups import ROLLUPS  # rollups imports this module's definitions

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
        raise InvalidInput(f"by: one of {', '.join(BREAKDOWNS)}", field="by")
    if sort not in METRICS:
        raise InvalidInput(f"sort: one of {', '.join(METRICS)}", field="sort")
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
        raise InvalidInput(f"every: one of {', '.join(EVERY)}", field="every")
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
            raise InvalidInput(f"every: a trend has at most {MAX_BUCKETS} points; choose a "
                               "longer step or a shorter period", field="every")
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
        raise InvalidInput(f"metric: one of {', '.join(METRICS)}", field="metric")
    if part not in (NUMERATOR, DENOMINATOR) or (part == DENOMINATOR and m.denominator is None):
        allowed = NUMERATOR if m.denominator is None else f"{NUMERATOR} or {DENOMINATOR}"
        raise InvalidInput(f"part: {allowed} for {metric}", field="part")
    if page < 1:
        raise InvalidInput("page: at least 1", field="page")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput(f"per_page: 1 to {MAX_PER_PAGE}", field="per_page")
    name = m.numerator if part == NUMERATOR else m.denominator
    assert name is not None
    return name


def tally_of(rows: Iterable[Summary]) -> Tally:
    """The sum of several tallies (a check that a breakdown adds up)."""
    total = empty_tally()
    for row in rows:
        for part, n in row.tally.items():
            total[part] += n
    return total


__all__ = ["METRICS", "PARTS", "NONE", "DIMENSIONS", "DateRange", "Filters", "Dims", "Figure",
           "Summary", "DrillItem", "DrillPage", "Source", "RAW", "summary",
           "breakdown", "trend", "drill_down", "drill_part", "buckets", "figures", "empty_tally",
           "local_day", "flag", "dim_columns"]
