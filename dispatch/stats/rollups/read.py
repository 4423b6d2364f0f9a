"""Reading figures from the rollups (`ROLLUPS`, the default source of `dispatch.stats.metrics`):
a query reads the smallest slice of stat_daily that holds its filters and its grouping, the
whole months of its period that ended before the current month from the monthly rows, the other
days from the daily rows; clocks open today and `overdue_now` from the facts. A drill-down lists
the facts themselves, a page cut in index order before its tickets are joined. Alarms not
acknowledged are counted from the facts too, once their time is up at `now`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, null, or_, select, true
from sqlalchemy.orm import Session

from dispatch.core.models import Ticket
from dispatch.stats.definitions import (
    ALARM_ACK_SECONDS,
    DIMENSIONS,
    LATE,
    ON_TIME,
    OPEN,
    DateRange,
    Dims,
    DrillItem,
    DrillPage,
    Filters,
    Group,
    Tally,
    Unit,
    empty_tally,
    local_day,
)
from dispatch.stats.rollups.tables import (
    COUNTERS,
    MONTHLY,
    OPEN_COUNTERS,
    PLAIN_COUNTERS,
    SLICES,
    TALLIED,
    StatAssignment,
    StatReview,
    StatTicket,
    stat_daily,
)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def month_split(
    span: DateRange, today: date
) -> tuple[tuple[date, date] | None, list[tuple[date, date]]]:
    """The whole months of the period that ended before today's month (read from the
    monthly rows: (first month, last month) or None) and the day ranges left (daily rows)."""
    first = span.start if span.start.day == 1 else _next_month(span.start)
    last = None
    month = first
    while _next_month(month) - timedelta(days=1) <= span.end and month < today.replace(day=1):
        last = month
        month = _next_month(month)
    if last is None:
        return None, [(span.start, span.end)]
    days = [(span.start, first - timedelta(days=1)), (_next_month(last), span.end)]
    return (first, last), [(a, b) for a, b in days if a <= b]


def slice_for(dims: Iterable[str]) -> str:
    """The smallest slice of stat_daily that keeps these dimensions."""
    needed = set(dims)
    fits = [name for name, kept in SLICES.items() if needed <= set(kept)]
    return min(fits, key=lambda name: (len(SLICES[name]), name))


def _clock_parts(state: Any, deadline: Any, now: datetime) -> dict[str, Any]:
    return {
        "on_time": state == ON_TIME,
        "due": or_(state.in_((ON_TIME, LATE)), and_(state == OPEN, deadline < now)),
    }


def _overdue(now: datetime) -> Any:
    a = StatAssignment
    return or_(
        and_(a.sign_state == OPEN, a.sign_deadline < now),
        and_(a.complete_state == OPEN, a.complete_deadline < now),
    )


def _open_alarm(now: datetime) -> Any:
    """SQL: a ticket fact's alarm is not acknowledged and its time to be is up at `now`."""
    t = StatTicket
    return and_(
        t.alarm_state == OPEN, t.alarm_raised_at <= now - timedelta(seconds=ALARM_ACK_SECONDS)
    )


def unit_query(part: str, now: datetime) -> tuple[Any, Any, Any, Any, Unit] | None:
    """(fact model, day column, condition, reference column, unit) of a part."""
    t, a, r = StatTicket, StatAssignment, StatReview
    ticket_parts = {
        "intake": t.void.is_(False),
        "void": t.void.is_(True),
        "direct_answer": t.direct_answer.is_(True),
        "repeat": t.repeat.is_(True),
        "patrol": t.patrol.is_(True),
        "self_handled": t.self_handled.is_(True),
    }
    if part in ticket_parts:
        return t, t.created_day, ticket_parts[part], t.ticket_id, Unit.TICKET
    dispatched = {
        "dispatched": true(),
        "completed": t.completed.is_(True),
        "reopened": t.reopened.is_(True),
        "auto_dispatched": t.auto_dispatched.is_(True),
        "auto_accurate": t.auto_accurate.is_(True),
    }
    if part in dispatched:
        return t, t.dispatched_day, dispatched[part], t.ticket_id, Unit.TICKET
    alarmed = {
        "alarms": or_(t.alarm_state.in_((ON_TIME, LATE)), _open_alarm(now)),
        "alarm_acknowledged": t.alarm_state == ON_TIME,
    }
    if part in alarmed:
        return t, t.alarm_day, alarmed[part], t.ticket_id, Unit.TICKET
    dispatches = {
        "dispatches": true(),
        "returned": a.returned.is_(True),
        "extended": a.extended.is_(True),
    }
    if part in dispatches:
        return a, a.dispatched_day, dispatches[part], a.assignment_id, Unit.ASSIGNMENT
    for clock, state, deadline, day in (
        ("sign", a.sign_state, a.sign_deadline, a.sign_day),
        ("complete", a.complete_state, a.complete_deadline, a.complete_day),
    ):
        parts = _clock_parts(state, deadline, now)
        if part.startswith(clock + "_") and part.removeprefix(clock + "_") in parts:
            return a, day, parts[part.removeprefix(clock + "_")], a.assignment_id, Unit.ASSIGNMENT
    reviewed = {
        "callback_needed": r.callback_needed.is_(True),
        "callback_done": and_(r.callback_needed.is_(True), r.callback_done.is_(True)),
    }
    if part in reviewed:
        return r, r.reviewed_day, reviewed[part], r.event_id, Unit.REVIEW
    answered = {
        "answered": true(),
        "satisfied": r.satisfied.is_(True),
        "resolved": r.resolved.is_(True),
    }
    if part in answered:
        return r, r.answered_day, answered[part], r.callback_event_id, Unit.CALLBACK
    return None


class RollupSource:
    """Figures from stat_daily (and, for clocks open today and overdue_now, the facts)."""

    def tally(
        self,
        session: Session,
        span: DateRange,
        filters: Filters,
        now: datetime,
        group: Group,
        *,
        overdue: bool = True,
    ) -> dict[Any, Tally]:
        """The parts' counts (`overdue=False`: without overdue_now, which is of no period)."""
        needed = [d for d, _ in filters.items()] + ([group] if group in DIMENSIONS else [])
        today = local_day(now)
        name = slice_for(needed)
        if group == "day":
            months, days = None, [(span.start, span.end)]
        else:  # over months, whole months are read from the monthly rows
            months, days = month_split(span, today)
        ranges = [(name, a, b) for a, b in days]
        if months is not None:
            ranges.append((name + MONTHLY, *months))
        s = stat_daily.c
        key = s.day if group == "day" else s[group] if group else None
        sums = [func.sum(s[c]).label(c) for c in PLAIN_COUNTERS]
        # A clock still open on a day before today has missed its deadline.
        sums += [func.sum(case((s.day < today, s[c]), else_=0)).label(c) for c in OPEN_COUNTERS]
        out: dict[Any, Tally] = defaultdict(empty_tally)
        # A query per range of the key (slice, day), which the planners read as a range of
        # the index (several ranges in one query are read as a bitmap or a whole scan).
        for n, first, last in ranges:
            stmt = select(*(() if key is None else (key.label("key"),)), *sums).where(
                s.slice == n, s.day.between(first, last), *filters.where(s)
            )
            if key is not None:
                stmt = stmt.group_by(key)
            for row in session.execute(stmt):
                if row.intake is not None:  # None: no row at all (an ungrouped sum)
                    _add_counts(out[row.key if key is not None else None], row)
        a = StatAssignment
        columns = a.__table__.c
        if today in span:  # clocks open on today's date whose deadline has already passed
            for clock, state, deadline, day in (
                ("sign", a.sign_state, a.sign_deadline, a.sign_day),
                ("complete", a.complete_state, a.complete_deadline, a.complete_day),
            ):
                fkey = day if group == "day" else columns[group] if group else None
                q = select(*(() if fkey is None else (fkey,)), func.count()).where(
                    state == OPEN, day == today, deadline < now, *filters.where(columns)
                )
                if fkey is not None:
                    q = q.group_by(fkey)
                for row in session.execute(q):
                    n = row[-1]
                    if n:
                        out[row[0] if fkey is not None else None][f"{clock}_due"] += n
        if group != "day" and overdue:
            fkey = columns[group] if group else None
            q = select(
                *(() if fkey is None else (fkey,)), func.count(func.distinct(a.ticket_id))
            ).where(_overdue(now), *filters.where(columns))
            if fkey is not None:
                q = q.group_by(fkey)
            for row in session.execute(q):
                n = row[-1]
                if n:
                    out[row[0] if fkey is not None else None]["overdue_now"] += n
        # Alarms not acknowledged (yet), counted once their time is up: from the facts.
        t = StatTicket
        tcols = t.__table__.c
        akey: Any = t.alarm_day if group == "day" else tcols[group] if group else None
        q = select(*(() if akey is None else (akey,)), func.count()).where(
            t.alarm_day >= span.start,
            t.alarm_day <= span.end,
            _open_alarm(now),
            *filters.where(tcols),
        )
        if akey is not None:
            q = q.group_by(akey)
        for row in session.execute(q):
            n = row[-1]
            if n:
                out[row[0] if akey is not None else None]["alarms"] += n
        # Deltas can bring a row back to zero; such a key has nothing to show.
        return {k: tally for k, tally in out.items() if any(tally.values())}

    def units(
        self,
        session: Session,
        span: DateRange,
        filters: Filters,
        now: datetime,
        part: str,
        page: int,
        per_page: int,
    ) -> DrillPage:
        if part == "overdue_now":
            return self._overdue_units(session, filters, now, page, per_page)
        spec = unit_query(part, now)
        if spec is None:
            raise ValueError(f"unknown part {part!r}")
        model, day, cond, ref, unit = spec
        columns = model.__table__.c
        where = and_(day >= span.start, day <= span.end, cond, *filters.where(columns))
        # How many: the part's figure, read from the rollups (the same units the page lists:
        # counting the facts would visit every one of them).
        counted = self.tally(session, span, filters, now, None, overdue=False)
        total = counted.get(None, empty_tally())[part]
        # The page's keys are cut from the drill-down index alone (without a filter on a
        # dimension, an index-only scan on PostgreSQL), then its facts and tickets are joined:
        # a far page neither joins nor reads every unit before it.
        key = list(model.__table__.primary_key.columns)[0]
        keys = (
            select(key.label("key"))
            .where(where)
            .order_by(day, model.ticket_id, ref)
            .limit(per_page)
            .offset((page - 1) * per_page)
            .subquery()
        )
        page_rows = select(
            ref.label("ref"), model.ticket_id, day.label("day"), *(columns[d] for d in DIMENSIONS)
        ).join(keys, keys.c.key == key)
        return DrillPage(_with_tickets(session, page_rows.subquery(), unit), total, page, per_page)

    def _overdue_units(
        self, session: Session, filters: Filters, now: datetime, page: int, per_page: int
    ) -> DrillPage:
        a = StatAssignment
        columns = a.__table__.c
        # A ticket overdue in several departments is listed once, under the first code.
        per_ticket = (
            select(
                a.ticket_id.label("ref"),
                a.ticket_id,
                null().label("day"),
                *(func.min(columns[d]).label(d) for d in DIMENSIONS),
            )
            .where(_overdue(now), *filters.where(columns))
            .group_by(a.ticket_id)
        )
        total = session.scalar(select(func.count()).select_from(per_ticket.subquery())) or 0
        page_rows = per_ticket.order_by(a.ticket_id).limit(per_page).offset((page - 1) * per_page)
        return DrillPage(
            _with_tickets(session, page_rows.subquery(), Unit.TICKET), total, page, per_page
        )


def _add_counts(tally: Tally, row: Any) -> None:
    """Add a row of stat_daily's counters to the parts of a tally."""
    counts = {c: int(getattr(row, c) or 0) for c in COUNTERS}
    for part in TALLIED:  # the counters that are parts as they are
        tally[part] += counts[part]
    for clock in ("sign", "complete"):
        tally[f"{clock}_on_time"] += counts[f"{clock}_on_time"]
        tally[f"{clock}_due"] += (
            counts[f"{clock}_on_time"] + counts[f"{clock}_late"] + counts[f"{clock}_open"]
        )
    tally["alarm_acknowledged"] += counts["alarm_on_time"]
    tally["alarms"] += counts["alarm_on_time"] + counts["alarm_late"]


def _with_tickets(session: Session, page_rows: Any, unit: Unit) -> list[DrillItem]:
    """A page of units (ref, ticket_id, day, dimensions), with their tickets' number and
    status, in the drill-down order (day, ticket, unit)."""
    rows = session.execute(
        select(page_rows, Ticket.number, Ticket.status)
        .join(Ticket, Ticket.id == page_rows.c.ticket_id)
        .order_by(page_rows.c.day, page_rows.c.ticket_id, page_rows.c.ref)
    )
    return [
        DrillItem(
            r.ticket_id,
            r.number,
            r.status,
            unit,
            r.ref,
            r.day,
            Dims(*(getattr(r, d) for d in DIMENSIONS)),
        )
        for r in rows
    ]


ROLLUPS = RollupSource()


def slice_rows(session: Session) -> dict[tuple[Any, ...], tuple[int, ...]]:
    """Every non-zero row of stat_daily as key → counters (to compare two states)."""
    keys = ("slice", "day", *DIMENSIONS)
    out = {}
    for row in session.execute(select(stat_daily)):
        counts = tuple(getattr(row, c) for c in COUNTERS)
        if any(counts):
            out[tuple(getattr(row, k) for k in keys)] = counts
    return out
