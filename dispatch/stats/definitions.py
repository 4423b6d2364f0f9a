"""The leadership metrics' definitions (DOMAIN.md "Metrics (leadership)" and "More metrics"):
what each figure counts, the periods, filters and dimensions they are read by, and the small
values the sources answer with. No query here: the reference computation over the raw tables is
`dispatch.stats.raw`, the daily rollups `dispatch.stats.rollups`, the entry points
`dispatch.stats.metrics`.

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
- auto_dispatch_rate (智能派单率): dispatched tickets of P (first dispatch in P, as
  completion_rate) whose first lead assignment was made by automatic dispatch
  (`Assignment.auto_dispatched`) ÷ dispatched tickets of P. A subset of its base, so it never
  passes 1, whatever the filter or grouping.
- auto_dispatch_accuracy (智能派单准确率): of those auto-dispatched tickets, the ones neither
  returned nor re-routed: their automatic lead assignment was not returned, the dispatcher did
  not take them back (`take_back`), and no later lead assignment went to another department
  ÷ auto-dispatched tickets.
- alarm_ack_rate (警报确认及时率): tickets whose emergency alarm (`Ticket.alarm_raised_at`) was
  raised in P and acknowledged within 60 s (`alarm_acknowledged_at`, both ends included) ÷
  alarms raised in P. Like a clock, an alarm still unacknowledged within its 60 s at `now` is
  not counted yet.
- patrol_reports (主动发现量) and self_handled_rate (自办率): tickets of the channel `patrol`
  created in P (void left out), and of those the ones the grid worker handled on the spot
  (a `self_handle` event) ÷ patrol reports.
- Like the others, the three are kept in the facts and daily rollups (`stat_tickets`:
  auto_dispatched, auto_accurate, the alarm's day, moment and state; alarms still open are
  counted from the facts at `now`) and computed again from the raw tables by `RAW`.
- overdue_now: tickets with an active assignment past its sign-for or completion deadline at
  `now` (as `dispatch.tickets.queries.overdue_clause`), whatever the period; it is not in trends. By
  department, a ticket counts for each department holding an overdue assignment on it.
- Breakdowns use each ticket's current channel, type, category, street and cell. The department
  is the one the unit belongs to: a ticket's (intake, direct answer, repeat, dispatched,
  completed, reopened, auto-dispatched, alarm) is its latest lead department; an assignment's
  is its own; a review's and a callback's is the lead department of the round reviewed.
  Tickets never dispatched have no department (shown as `none`).
- Filters: `category` takes its subtree; the value `none` selects units where the dimension is
  not set (no department yet, no cell, …). Rates with a zero denominator are `None`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

from sqlalchemy import or_
from sqlalchemy.orm import Session

from dispatch.core.errors import InvalidInput
from dispatch.core.vocab import Satisfaction, Status
from dispatch.tickets.calendar import LOCAL_TZ

NONE = "none"  # the filter and breakdown value of a dimension that is not set
DIMENSIONS = ("channel", "type", "category", "department", "street", "cell")
MAX_DAYS = 3660  # the longest period a figure covers (ten years)
MAX_BUCKETS = 400  # the most points a trend has
MAX_PER_PAGE = 100

COMPLETED_OR_LATER = (Status.COMPLETED, Status.REVIEWED, Status.ARCHIVED)
CONCLUDED = (Status.ARCHIVED, Status.REOPENED)  # where a concluding callback leads
SATISFIED = (Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED)

ALARM_ACK_SECONDS = 60  # an emergency alarm is acknowledged in time within this

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
    Part("auto_dispatched", Unit.TICKET, "first dispatch"),
    Part("auto_accurate", Unit.TICKET, "first dispatch"),
    Part("patrol", Unit.TICKET, "created"),
    Part("self_handled", Unit.TICKET, "created"),
    Part("alarms", Unit.TICKET, "alarm raised"),
    Part("alarm_acknowledged", Unit.TICKET, "alarm raised"),
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
    Metric("auto_dispatch_rate", "智能派单率", "auto_dispatched", "dispatched",
           "dispatched tickets of P dispatched automatically ÷ dispatched tickets of P"),
    Metric("auto_dispatch_accuracy", "智能派单准确率", "auto_accurate", "auto_dispatched",
           "auto-dispatched tickets neither returned nor re-routed ÷ auto-dispatched tickets"),
    Metric("alarm_ack_rate", "警报确认及时率", "alarm_acknowledged", "alarms",
           "alarms acknowledged within 60 s ÷ alarms raised in P"),
    Metric("patrol_reports", "主动发现量", "patrol", None,
           "patrol reports of grid workers in P (巡查上报)"),
    Metric("self_handled_rate", "自办率", "self_handled", "patrol",
           "patrol reports handled on the spot (自办自结) ÷ patrol reports"),
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
            raise InvalidInput("to: 结束日期早于开始日期", field="to")
        if (self.end - self.start).days >= MAX_DAYS:
            raise InvalidInput(f"to: 统计期间最长 {MAX_DAYS} 天", field="to")

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

    def given(self) -> dict[str, str]:
        """The filters given, by dimension, as given (`none` as such)."""
        return {d: getattr(self, d) for d in DIMENSIONS if getattr(self, d)}

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

