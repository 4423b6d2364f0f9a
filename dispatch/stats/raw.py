"""The reference computation of the leadership metrics (`dispatch.stats.definitions`): every part
counted again from tickets, assignments, extensions and events alone, by plain GROUP BY queries
(a few per figure, formulated on the raw rows independently of the rollups' facts), at each
call. `RAW` is the source the rollups are checked against (tests/service/test_rollups.py); it
is slow on big data.

A query here reads *unit sets*: one subquery per moment the parts are dated by, a row per unit
with its day, its dimensions and a 0/1 column per part. `tally_sets` and `set_units` count and
list the units of any such sets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, case, exists, false, func, literal, not_, null, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.functions import FunctionElement

from dispatch.core.db import UTCDateTime
from dispatch.core.models import Assignment, Event, Extension, Ticket
from dispatch.core.sqldates import local_date
from dispatch.core.vocab import Channel, Outcome, Status
from dispatch.stats.definitions import (
    ALARM_ACK_SECONDS,
    COMPLETED_OR_LATER,
    CONCLUDED,
    DIMENSIONS,
    LATE,
    ON_TIME,
    PARTS,
    SATISFIED,
    DateRange,
    Dims,
    DrillItem,
    DrillPage,
    Filters,
    Group,
    Tally,
    Unit,
    empty_tally,
)

AUTO_DISPATCH_PARTS = ("auto_dispatched", "auto_accurate")
ALARM_PARTS = ("alarms", "alarm_acknowledged")


# ---------------------------------------------------------------- SQL helpers

# The aliases the queries use, made once: an alias of a wide table computes its columns the
# first time it is used, which took most of the time spent building each query. A statement
# uses each in one subquery at most.
_LEAD = aliased(Assignment)  # a ticket's latest lead
_DISPATCH = aliased(Event)  # the dispatch before a review or an answer
_REOPEN = aliased(Event)  # a callback that reopened the ticket
_CONCLUDING = aliased(Event)  # the callback that concluded a review
_FIRST_LEAD = aliased(Assignment)  # a ticket's first lead assignment
_MOVED = aliased(Assignment)  # a later lead assignment elsewhere
_TAKEN = aliased(Event)  # the dispatcher took an automatic dispatch back


class seconds_after(FunctionElement[Any]):  # noqa: N801 (an SQL function)
    """SQL: a UTC timestamp plus a number of seconds: `seconds_after(column, 60)`."""

    type = UTCDateTime()
    inherit_cache = True
    name = "seconds_after"


@compiles(seconds_after, "postgresql")
def _seconds_after_pg(element: seconds_after, compiler: Any, **kw: Any) -> str:
    at, seconds = (compiler.process(c, **kw) for c in element.clauses)
    return f"({at} + make_interval(secs => {seconds}))"


@compiles(seconds_after, "sqlite")
def _seconds_after_sqlite(element: seconds_after, compiler: Any, **kw: Any) -> str:
    # SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff': the whole seconds moved, the fraction kept,
    # so that the text compares with the stored ones exactly.
    at, seconds = (compiler.process(c, **kw) for c in element.clauses)
    return (f"(strftime('%Y-%m-%d %H:%M:%S', {at}, '+' || ({seconds}) || ' seconds') "
            f"|| substr({at}, 20))")


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


def latest_lead(ticket_id: Any) -> Any:
    """SQL: the department of a ticket's latest lead assignment."""
    a = _LEAD
    return (select(a.department_code).where(a.ticket_id == ticket_id, a.role == "lead")
            .order_by(a.id.desc()).limit(1).scalar_subquery())


def _lead_before(event: Any) -> Any:
    d = _DISPATCH
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


def within(col: Any, span: DateRange) -> Any:
    """SQL: a timestamp inside the period."""
    return and_(col >= span.starts_at, col < span.ends_before)


def auto_accuracy(auto: Any) -> tuple[Any, Any]:
    """SQL: (auto-dispatched, accurate) of a ticket whose first lead assignment is `auto` (an
    alias of assignments): accurate when that assignment was not returned, the dispatcher did
    not take the ticket back, and no later lead assignment went to another department."""
    moved, taken = _MOVED, _TAKEN
    rerouted = exists(select(moved.id).where(
        moved.ticket_id == auto.ticket_id, moved.role == "lead", moved.id > auto.id,
        moved.department_code != auto.department_code))
    taken_back = exists(select(taken.id).where(taken.ticket_id == auto.ticket_id,
                                               taken.action == "take_back"))
    dispatched = auto.auto_dispatched.is_(True)
    # CASE: the subqueries run for the auto-dispatched tickets only.
    stood = and_(auto.returned_at.is_(None), not_(taken_back), not_(rerouted))
    return dispatched, case((dispatched, stood), else_=false())


def alarm_rows(span: DateRange, now: datetime, department: Any) -> Any:
    """SQL: the tickets whose alarm was raised in the period and counts (acknowledged, or its
    60 s over at `now`), with the dimensions (`department`: the ticket's, as a column)."""
    t = Ticket
    in_time = and_(t.alarm_acknowledged_at.is_not(None),
                   t.alarm_acknowledged_at <= seconds_after(t.alarm_raised_at,
                                                            ALARM_ACK_SECONDS))
    counted = or_(t.alarm_acknowledged_at.is_not(None),
                  t.alarm_raised_at <= now - timedelta(seconds=ALARM_ACK_SECONDS))
    return select(
        t.id.label("ref"), t.id.label("ticket_id"), local_date(t.alarm_raised_at).label("day"),
        *dim_columns(department),
        literal(1).label("alarms"), flag(in_time).label("alarm_acknowledged"),
    ).where(within(t.alarm_raised_at, span), counted)


# ---------------------------------------------------------------- unit sets


@dataclass(frozen=True)
class UnitSet:
    """Units of some parts: a subquery with `ref`, `ticket_id`, `day` (local date of the
    moment the parts are dated by), the dimensions, and a 0/1 column per part saying whether
    the unit counts in it."""

    rows: Any
    unit: Unit
    parts: tuple[str, ...]


def raw_sets(span: DateRange, now: datetime) -> list[UnitSet]:
    """The units of the period, one set per moment they are dated by (SQL, nothing read)."""
    return list(_raw_sets(span, now))


@lru_cache(maxsize=32)
def _raw_sets(span: DateRange, now: datetime) -> tuple[UnitSet, ...]:
    # Kept per (period, now): building these statements costs more than running some of them,
    # and a page of figures asks for the same period many times (statements are immutable).
    t, a, e = Ticket, Assignment, Event
    not_void = t.status != Status.VOID
    patrol = and_(not_void, t.channel == Channel.PATROL)  # 巡查上报
    created = select(
        t.id.label("ref"), t.id.label("ticket_id"), local_date(t.created_at).label("day"),
        *dim_columns(latest_lead(t.id)),
        flag(not_void).label("intake"), flag(t.status == Status.VOID).label("void"),
        flag(and_(not_void, t.outcome == Outcome.DIRECT_ANSWER)).label("direct_answer"),
        flag(and_(not_void, t.parent_id.is_not(None))).label("repeat"),
        flag(patrol).label("patrol"),
        # The events are read for patrol reports only (CASE).
        case((patrol, flag(exists(select(e.id).where(
            e.ticket_id == t.id, e.action == "self_handle")))), else_=0).label("self_handled"),
    ).where(within(t.created_at, span))

    first = (select(a.ticket_id, func.min(a.dispatched_at).label("first_at"),
                    func.min(case((a.role == "lead", a.id))).label("first_lead_id"))
             .group_by(a.ticket_id).subquery())
    reopen = _REOPEN
    reopened = exists(select(reopen.id).where(
        reopen.ticket_id == t.id, reopen.action == "callback",
        reopen.to_status == Status.REOPENED))
    first_lead = _FIRST_LEAD
    auto, accurate = auto_accuracy(first_lead)
    dispatched = select(
        t.id.label("ref"), t.id.label("ticket_id"), local_date(first.c.first_at).label("day"),
        *dim_columns(latest_lead(t.id)),
        literal(1).label("dispatched"),
        flag(t.status.in_(COMPLETED_OR_LATER)).label("completed"),
        flag(reopened).label("reopened"),
        flag(auto).label("auto_dispatched"), flag(accurate).label("auto_accurate"),
    ).join(first, first.c.ticket_id == t.id).outerjoin(
        first_lead, first_lead.id == first.c.first_lead_id,
    ).where(within(first.c.first_at, span))

    approved = exists(select(Extension.id).where(Extension.assignment_id == a.id,
                                                 Extension.status == "approved"))
    dispatches = select(
        a.id.label("ref"), a.ticket_id, local_date(a.dispatched_at).label("day"),
        *dim_columns(a.department_code),
        literal(1).label("dispatches"), flag(a.returned_at.is_not(None)).label("returned"),
        flag(approved).label("extended"),
    ).join(t, t.id == a.ticket_id).where(within(a.dispatched_at, span))

    def clock(name: str, deadline: Any, done: Any) -> Any:
        state = _clock_state(deadline, done, now)
        return select(
            a.id.label("ref"), a.ticket_id, local_date(deadline).label("day"),
            *dim_columns(a.department_code),
            flag(state.is_not(None)).label(f"{name}_due"),
            flag(state == ON_TIME).label(f"{name}_on_time"),
        ).join(t, t.id == a.ticket_id).where(within(deadline, span))

    c = _CONCLUDING
    concluded = exists(select(c.id).where(c.ticket_id == e.ticket_id, c.action == "callback",
                                          c.id > e.id, c.to_status.in_(CONCLUDED)))
    needed = func.coalesce(e.payload["callback_needed"].as_boolean(), True).is_(True)
    reviews = select(
        e.id.label("ref"), e.ticket_id, local_date(e.at).label("day"),
        *dim_columns(_lead_before(e)),
        literal(1).label("callback_needed"), flag(concluded).label("callback_done"),
    ).join(t, t.id == e.ticket_id).where(e.action == "review_accept", within(e.at, span),
                                         needed)

    answers = select(
        e.id.label("ref"), e.ticket_id, local_date(e.at).label("day"),
        *dim_columns(_lead_before(e)),
        literal(1).label("answered"),
        flag(e.payload["satisfaction"].as_string().in_(SATISFIED)).label("satisfied"),
        flag(e.payload["resolved"].as_boolean().is_(True)).label("resolved"),
    ).join(t, t.id == e.ticket_id).where(
        e.action == "callback", within(e.at, span), e.payload["reached"].as_boolean().is_(True))

    return (
        UnitSet(created.subquery(), Unit.TICKET,
                ("intake", "void", "direct_answer", "repeat", "patrol", "self_handled")),
        UnitSet(dispatched.subquery(), Unit.TICKET,
                ("dispatched", "completed", "reopened", *AUTO_DISPATCH_PARTS)),
        UnitSet(dispatches.subquery(), Unit.ASSIGNMENT, ("dispatches", "returned", "extended")),
        UnitSet(clock("sign", a.sign_deadline, a.signed_at).subquery(), Unit.ASSIGNMENT,
                ("sign_due", "sign_on_time")),
        UnitSet(clock("complete", a.complete_deadline, a.completed_at).subquery(),
                Unit.ASSIGNMENT, ("complete_due", "complete_on_time")),
        UnitSet(reviews.subquery(), Unit.REVIEW, ("callback_needed", "callback_done")),
        UnitSet(answers.subquery(), Unit.CALLBACK, ("answered", "satisfied", "resolved")),
        UnitSet(alarm_rows(span, now, latest_lead(Ticket.id)).subquery(), Unit.TICKET,
                ALARM_PARTS),
    )


def _overdue_rows(now: datetime) -> Any:
    """Tickets overdue now (any period), a row per department holding an overdue assignment."""
    a = Assignment
    return (select(a.ticket_id.label("ref"), a.ticket_id, *dim_columns(a.department_code))
            .join(Ticket, Ticket.id == a.ticket_id)
            .where(or_(and_(a.status == "dispatched", a.sign_deadline < now),
                       and_(a.status.in_(("dispatched", "signed")),
                            a.complete_deadline < now)))
            .distinct().subquery())


# ---------------------------------------------------------------- counting and listing units


def tally_sets(session: Session, sets: Iterable[UnitSet], filters: Filters, group: Group,
               out: dict[Any, Tally] | None = None,
               parts: Iterable[str] | None = None) -> dict[Any, Tally]:
    """Add the parts of these unit sets (only `parts`, when given) to `out` by group key (None
    when not grouped; the day; a stored dimension value)."""
    totals: dict[Any, Tally] = out if out is not None else defaultdict(empty_tally)
    wanted = None if parts is None else set(parts)
    for unit_set in sets:
        names = [p for p in unit_set.parts if wanted is None or p in wanted]
        if names:
            rows = unit_set.rows
            _count(session, rows, [func.sum(rows.c[p]).label(p) for p in names], filters,
                   group, totals)
    return totals


def _count(session: Session, rows: Any, sums: list[Any], filters: Filters, group: Group,
           out: dict[Any, Tally]) -> None:
    key = None if group is None else rows.c[group]
    stmt = select(*(() if key is None else (key,)), *sums).where(*filters.where(rows.c))
    if key is not None:
        stmt = stmt.group_by(key)
    for row in session.execute(stmt):
        tally = out.setdefault(row[0] if key is not None else None, empty_tally())
        for part, n in row._mapping.items():
            if part in PARTS:
                tally[part] += int(n or 0)


def set_units(session: Session, unit_set: UnitSet, part: str, filters: Filters, page: int,
              per_page: int) -> DrillPage:
    """A page of the units of one part of a unit set, by day, ticket and unit."""
    chosen = unit_set.rows
    return _page(session, chosen, unit_set.unit,
                 [chosen.c[part] == 1, *filters.where(chosen.c)], page, per_page)


def _page(session: Session, chosen: Any, unit: Unit, where: list[Any], page: int,
          per_page: int) -> DrillPage:
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


def set_of(sets: Iterable[UnitSet], part: str) -> UnitSet:
    """The unit set that counts a part (ValueError for an unknown part)."""
    found = next((s for s in sets if part in s.parts), None)
    if found is None:
        raise ValueError(f"unknown part {part!r}")
    return found


# ---------------------------------------------------------------- the source


class SqlRawSource:
    """Figures computed from the raw tables at each call by plain GROUP BY queries (the
    reference the rollups are checked against; slow on big data)."""

    def tally(self, session: Session, span: DateRange, filters: Filters, now: datetime,
              group: Group) -> dict[Any, Tally]:
        out = tally_sets(session, raw_sets(span, now), filters, group)
        if group != "day":
            rows = _overdue_rows(now)
            _count(session, rows, [func.count(func.distinct(rows.c.ticket_id))
                                   .label("overdue_now")], filters, group, out)
        return {k: tally for k, tally in out.items() if any(tally.values())}

    def units(self, session: Session, span: DateRange, filters: Filters, now: datetime,
              part: str, page: int, per_page: int) -> DrillPage:
        if part != "overdue_now":
            return set_units(session, set_of(raw_sets(span, now), part), part, filters, page,
                             per_page)
        rows = _overdue_rows(now)
        # A ticket overdue in several departments is listed once, under the first code.
        per_ticket = (select(rows.c.ref, rows.c.ticket_id, null().label("day"),
                             *(func.min(rows.c[d]).label(d) for d in DIMENSIONS))
                      .where(*filters.where(rows.c)).group_by(rows.c.ref, rows.c.ticket_id)
                      .subquery())
        return _page(session, per_ticket, Unit.TICKET, [], page, per_page)


RAW = SqlRawSource()


__all__ = ["RAW", "SqlRawSource", "UnitSet", "raw_sets", "tally_sets",
           "set_units", "set_of", "alarm_rows", "auto_accuracy", "flag", "dim_columns",
           "latest_lead", "within", "seconds_after"]
