"""Rebuilding the rollups from scratch (`hotline stats rebuild`), in one transaction: the figures
read meanwhile are the old ones. Set-based SQL (PostgreSQL and SQLite alike) giving the rows
`compute_facts`, `contributions` and the refresh give: each fact table by one INSERT ... SELECT
over the raw tables, then the facts' contributions added up once by day and full key, and each
slice from the smallest rows already added up that hold its dimensions, written in the order of
stat_daily's key."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    delete,
    exists,
    false,
    func,
    literal,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.orm import Session, aliased

from dispatch.core.db import affected_rows, utcnow
from dispatch.core.models import Assignment, Event, Extension, Ticket
from dispatch.core.sqldates import local_date, month_start
from dispatch.core.vocab import Channel, Outcome, Status
from dispatch.stats.definitions import (
    ALARM_ACK_SECONDS,
    COMPLETED_OR_LATER,
    CONCLUDED,
    DIMENSIONS,
    LATE,
    ON_TIME,
    OPEN,
    SATISFIED,
)
from dispatch.stats.raw import auto_accuracy, dim_columns, flag, seconds_after
from dispatch.stats.rollups.facts import FACT_EVENTS
from dispatch.stats.rollups.refresh import check_clean, lock_head
from dispatch.stats.rollups.tables import (
    COUNTERS,
    DIM_SIZES,
    FACT_TABLES,
    MONTHLY,
    SLICES,
    StatAssignment,
    StatHead,
    StatPending,
    StatReview,
    StatTicket,
    stat_daily,
)

# The same facts and rollups as `compute_facts`, `contributions` and the refresh, computed by
# INSERT ... SELECT over every ticket at once (portable SQL: PostgreSQL and SQLite).


def _ticket_facts() -> Any:
    """SQL: a stat_tickets row per ticket."""
    t, a, lead, e = Ticket, Assignment, aliased(Assignment), aliased(Event)
    first = aliased(Assignment)
    per_ticket = (
        select(
            a.ticket_id,
            func.min(a.dispatched_at).label("first_at"),
            func.max(case((a.role == "lead", a.id))).label("lead_id"),
            func.min(case((a.role == "lead", a.id))).label("first_lead_id"),
        )
        .group_by(a.ticket_id)
        .subquery()
    )
    not_void = t.status != Status.VOID
    reopened = exists().where(
        e.ticket_id == t.id, e.action == "callback", e.to_status == Status.REOPENED
    )
    auto, accurate = auto_accuracy(first)
    patrol = and_(not_void, t.channel == Channel.PATROL)
    # The events are read for patrol reports only (CASE).
    self_handled = case((patrol, exists().where(e.ticket_id == t.id,
                                                e.action == "self_handle")), else_=false())
    raised, acknowledged = t.alarm_raised_at, t.alarm_acknowledged_at
    alarm_state = case(
        (and_(raised.is_not(None), acknowledged.is_(None)), OPEN),
        (acknowledged <= seconds_after(raised, ALARM_ACK_SECONDS), ON_TIME),
        (raised.is_not(None), LATE),
    )
    return (
        select(
            t.id.label("ticket_id"),
            *dim_columns(lead.department_code),
            local_date(t.created_at).label("created_day"),
            (t.status == Status.VOID).label("void"),
            and_(not_void, func.coalesce(t.outcome, "") == Outcome.DIRECT_ANSWER).label(
                "direct_answer"
            ),
            and_(not_void, t.parent_id.is_not(None)).label("repeat"),
            local_date(per_ticket.c.first_at).label("dispatched_day"),
            and_(per_ticket.c.first_at.is_not(None), t.status.in_(COMPLETED_OR_LATER)).label(
                "completed"
            ),
            reopened.label("reopened"),
            auto.label("auto_dispatched"),
            accurate.label("auto_accurate"),
            patrol.label("patrol"),
            self_handled.label("self_handled"),
            local_date(raised).label("alarm_day"),
            raised.label("alarm_raised_at"),
            alarm_state.label("alarm_state"),
        )
        .outerjoin(per_ticket, per_ticket.c.ticket_id == t.id)
        .outerjoin(lead, lead.id == per_ticket.c.lead_id)
        .outerjoin(first, first.id == per_ticket.c.first_lead_id)
    )


def _clock_sql(deadline: Any, done: Any) -> Any:
    """SQL: how an assignment's clock ended, as `_clock` (NULL: stopped before its deadline)."""
    a = Assignment
    return case(
        (done.is_not(None), case((done <= deadline, ON_TIME), else_=LATE)),
        (a.returned_at.is_not(None), case((a.returned_at > deadline, LATE))),
        (a.closed_at.is_not(None), case((a.closed_at > deadline, LATE))),
        else_=OPEN,
    )


def _assignment_facts() -> Any:
    """SQL: a stat_assignments row per assignment."""
    a, x = Assignment, Extension
    approved = exists().where(x.assignment_id == a.id, x.status == "approved")
    return select(
        a.id.label("assignment_id"),
        a.ticket_id,
        *dim_columns(a.department_code),
        local_date(a.dispatched_at).label("dispatched_day"),
        a.returned_at.is_not(None).label("returned"),
        approved.label("extended"),
        local_date(a.sign_deadline).label("sign_day"),
        _clock_sql(a.sign_deadline, a.signed_at).label("sign_state"),
        a.sign_deadline,
        local_date(a.complete_deadline).label("complete_day"),
        _clock_sql(a.complete_deadline, a.completed_at).label("complete_state"),
        a.complete_deadline,
    ).join(Ticket, Ticket.id == a.ticket_id)


def _review_facts() -> Any:
    """SQL: a stat_reviews row per accepted review, as `compute_facts` walks a ticket's events
    in id order: its department is the lead of the latest dispatch before it, its callback the
    first concluding callback after it and before the ticket's next review. Two passes of
    window functions: each event's number of dispatches and of reviews so far, then per
    (ticket, dispatches so far) the dispatch's lead and per (ticket, reviews so far) the first
    concluding callback."""
    e = Event
    steps = (
        select(
            e.id,
            e.ticket_id,
            e.action,
            e.at,
            e.payload,
            e.to_status,
            func.count(case((e.action == "dispatch", 1)))
            .over(partition_by=e.ticket_id, order_by=e.id)
            .label("dispatches"),
            func.count(case((e.action == "review_accept", 1)))
            .over(partition_by=e.ticket_id, order_by=e.id)
            .label("reviews"),
        )
        .where(e.action.in_(FACT_EVENTS))
        .subquery()
    )
    s = steps.c
    rounds = select(
        s.id,
        s.ticket_id,
        s.action,
        s.at,
        s.payload,
        func.max(case((s.action == "dispatch", s.payload["lead"].as_string())))
        .over(partition_by=(s.ticket_id, s.dispatches))
        .label("lead"),
        func.min(case((and_(s.action == "callback", s.to_status.in_(CONCLUDED)), s.id)))
        .over(partition_by=(s.ticket_id, s.reviews))
        .label("cb_id"),
    ).subquery()
    reviews = (
        select(
            rounds.c.id,
            rounds.c.ticket_id,
            rounds.c.at,
            rounds.c.payload,
            rounds.c.lead,
            rounds.c.cb_id,
        )
        .where(rounds.c.action == "review_accept")
        .subquery()
    )
    cb = aliased(Event)
    reached = cb.payload["reached"].as_boolean().is_(True)
    return (
        select(
            reviews.c.id.label("event_id"),
            reviews.c.ticket_id,
            *dim_columns(reviews.c.lead),
            local_date(reviews.c.at).label("reviewed_day"),
            func.coalesce(reviews.c.payload["callback_needed"].as_boolean(), true()).label(
                "callback_needed"
            ),
            cb.id.is_not(None).label("callback_done"),
            cb.id.label("callback_event_id"),
            case((reached, local_date(cb.at))).label("answered_day"),
            case(
                (and_(reached, cb.payload["satisfaction"].as_string().in_(SATISFIED)), true()),
                else_=false(),
            ).label("satisfied"),
            case(
                (and_(reached, cb.payload["resolved"].as_boolean().is_(True)), true()),
                else_=false(),
            ).label("resolved"),
        )
        .join(Ticket, Ticket.id == reviews.c.ticket_id)
        .outerjoin(cb, cb.id == reviews.c.cb_id)
    )


def _insert_from(session: Session, table: Any, query: Any) -> int:
    """INSERT INTO table SELECT query (the columns by the query's labels); the rows added."""
    result = session.execute(
        table.insert().from_select(list(query.selected_columns.keys()), query),
        execution_options={"preserve_rowcount": True},
    )
    return affected_rows(result)


def _rebuild_facts(session: Session) -> int:
    """Every fact row, from the raw tables; the number of tickets."""
    count = _insert_from(session, StatTicket.__table__, _ticket_facts())
    _insert_from(session, StatAssignment.__table__, _assignment_facts())
    _insert_from(session, StatReview.__table__, _review_facts())
    return count


def _contributed(model: Any, day: Any, condition: Any, **counts: Any) -> Any:
    """SQL: the rows of a fact table meeting `condition`, as contributions dated by `day`:
    day, dimensions and the counters given (the others 0)."""
    columns = model.__table__.c
    return select(
        day.label("day"),
        *(columns[d] for d in DIMENSIONS),
        *(counts.get(c, literal(0)).label(c) for c in COUNTERS),
    ).where(condition)


def _contribution_rows() -> Any:
    """SQL: what each fact adds to stat_daily (`contributions`), a row per fact and day with
    its dimensions and a 0/1 per counter."""
    t, a, r = StatTicket, StatAssignment, StatReview
    not_void = t.void.is_(False)
    clocks = (
        _contributed(
            a,
            day,
            state.is_not(None),
            **{f"{clock}_{s}": flag(state == s) for s in (ON_TIME, LATE, OPEN)},
        )
        for clock, day, state in (
            ("sign", a.sign_day, a.sign_state),
            ("complete", a.complete_day, a.complete_state),
        )
    )
    return union_all(
        _contributed(
            t,
            t.created_day,
            true(),
            intake=flag(not_void),
            void=flag(t.void.is_(True)),
            direct_answer=flag(and_(not_void, t.direct_answer.is_(True))),
            repeat=flag(and_(not_void, t.repeat.is_(True))),
            patrol=flag(and_(not_void, t.patrol.is_(True))),
            self_handled=flag(and_(not_void, t.self_handled.is_(True))),
        ),
        _contributed(
            t,
            t.dispatched_day,
            t.dispatched_day.is_not(None),
            dispatched=literal(1),
            completed=flag(t.completed.is_(True)),
            reopened=flag(t.reopened.is_(True)),
            auto_dispatched=flag(t.auto_dispatched.is_(True)),
            auto_accurate=flag(t.auto_accurate.is_(True)),
        ),
        _contributed(  # open alarms are read from the facts
            t,
            t.alarm_day,
            t.alarm_state.in_((ON_TIME, LATE)),
            alarm_on_time=flag(t.alarm_state == ON_TIME),
            alarm_late=flag(t.alarm_state == LATE),
        ),
        _contributed(
            a,
            a.dispatched_day,
            true(),
            dispatches=literal(1),
            returned=flag(a.returned.is_(True)),
            extended=flag(a.extended.is_(True)),
        ),
        *clocks,
        _contributed(
            r,
            r.reviewed_day,
            r.callback_needed.is_(True),
            callback_needed=literal(1),
            callback_done=flag(r.callback_done.is_(True)),
        ),
        _contributed(
            r,
            r.answered_day,
            r.answered_day.is_not(None),
            answered=literal(1),
            satisfied=flag(r.satisfied.is_(True)),
            resolved=flag(r.resolved.is_(True)),
        ),
    ).subquery()


def _insert_slice(session: Session, name: str, source: Any, *where: Any) -> int:
    """Add up `source` (day, dimensions, counters; the rows meeting `where`) into the rows of
    one slice of stat_daily, by day or, for monthly rows, by the month's first day, in the
    order of its key; the rows written."""
    kept = SLICES[name.removesuffix(MONTHLY)]
    day = month_start(source.c.day) if name.endswith(MONTHLY) else source.c.day
    keys = [day, *(source.c[d] for d in kept)]
    query = (
        select(
            literal(name).label("slice"),
            day.label("day"),
            *(source.c[d] if d in kept else literal("").label(d) for d in DIMENSIONS),
            *(func.sum(source.c[c]).label(c) for c in COUNTERS),
        )
        .where(*where)
        .group_by(*keys)
        .order_by(*keys)
    )
    return _insert_from(session, stat_daily, query)


def _in_key_order(session: Session, names: Iterable[str]) -> list[str]:
    """Slice names in the order the database sorts them (its collation) in stat_daily's key."""
    listed = union_all(*(select(literal(n, String).label("name")) for n in names)).subquery()
    return list(session.scalars(select(listed.c.name).order_by(listed.c.name)))


def _rebuild_slices(session: Session) -> None:
    """Every row of stat_daily, from the facts. Their contributions are added up by day and
    full key once, into a temporary table; then each slice, daily and monthly rows, is added
    up from the smallest source holding its dimensions: that table, or rows written before
    it. The slices are written in the order of stat_daily's key, so that a slice's rows over a
    period lie together (the range its index reads: PostgreSQL's planner counts on it)."""
    by_day = Table(
        "stat_rebuild_days",
        MetaData(),
        Column("day", Date),
        *(Column(d, String(DIM_SIZES[d])) for d in DIMENSIONS),
        *(Column(c, Integer) for c in COUNTERS),
        prefixes=["TEMPORARY"],
    )
    by_day.create(session.connection())
    contributed = _contribution_rows()
    keys = [contributed.c.day, *(contributed.c[d] for d in DIMENSIONS)]
    session.execute(
        by_day.insert().from_select(
            [c.name for c in by_day.c],
            select(*keys, *(func.sum(contributed.c[c]) for c in COUNTERS)).group_by(*keys),
        )
    )
    d = stat_daily.c
    written: dict[str, int] = {}
    for name in _in_key_order(session, (n + m for n in SLICES for m in ("", MONTHLY))):
        monthly, kept = name.endswith(MONTHLY), set(SLICES[name.removesuffix(MONTHLY)])
        # Daily rows add up daily rows; monthly rows, daily or monthly ones.
        sources = [
            n
            for n in written
            if (monthly or not n.endswith(MONTHLY)) and kept <= set(SLICES[n.removesuffix(MONTHLY)])
        ]
        if sources:
            source = min(sources, key=written.__getitem__)
            written[name] = _insert_slice(session, name, stat_daily, d.slice == source)
        else:
            written[name] = _insert_slice(session, name, by_day)
    by_day.drop(session.connection())


def rebuild(session: Session) -> int:
    """Recompute every fact and rollup from the tickets, assignments, extensions and events,
    by set-based SQL (`_rebuild_facts`, `_rebuild_slices`), in one transaction; commits and
    returns the number of tickets."""
    check_clean(session, "rebuild")
    session.commit()
    lock_head(session, wait=True)
    for table in (stat_daily, *FACT_TABLES, StatPending.__table__):
        session.execute(delete(table))
    count = _rebuild_facts(session)
    _rebuild_slices(session)
    session.execute(update(StatHead).where(StatHead.id == 1).values(rebuilt_at=utcnow()))
    session.commit()
    return count
