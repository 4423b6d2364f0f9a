"""Rebuilding the rollups from scratch (`hotline stats rebuild`), in one transaction: the figures
read meanwhile are the old ones. Set-based SQL (PostgreSQL and SQLite alike) giving the rows
`compute_facts`, `contributions` and the refresh give: each fact table by one INSERT ... SELECT
over the raw tables (the queries in `fact_queries`), then the facts' contributions added up
once by day and full key, and each slice from the smallest rows already added up that hold its
dimensions, written in the order of stat_daily's key."""

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
    delete,
    func,
    literal,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from dispatch.core.db import affected_rows, utcnow
from dispatch.core.sqldates import month_start
from dispatch.stats.definitions import DIMENSIONS, LATE, ON_TIME, OPEN
from dispatch.stats.raw import flag
from dispatch.stats.rollups.fact_queries import assignment_facts, review_facts, ticket_facts
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


def _insert_from(session: Session, table: Any, query: Any) -> int:
    """INSERT INTO table SELECT query (the columns by the query's labels); the rows added."""
    result = session.execute(
        table.insert().from_select(list(query.selected_columns.keys()), query),
        execution_options={"preserve_rowcount": True},
    )
    return affected_rows(result)


def _rebuild_facts(session: Session) -> int:
    """Every fact row, from the raw tables; the number of tickets."""
    count = _insert_from(session, StatTicket.__table__, ticket_facts())
    _insert_from(session, StatAssignment.__table__, assignment_facts())
    _insert_from(session, StatReview.__table__, review_facts())
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
