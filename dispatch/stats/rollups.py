"""Facts and daily rollups of the leadership metrics (`dispatch.stats.metrics`), kept current from
the ticket events, so that figures over years read a few thousand rows instead of the event log.

Facts, one row per unit (each holds its dimensions and what the metrics count of it):
- `stat_tickets`: a ticket (created day, void, direct answer, repeat; first dispatch day,
  completed, reopened; department = its latest lead department);
- `stat_assignments`: an assignment (dispatch day, returned, extended; for the sign-for and
  the completion clock: the deadline, its day and how the clock ended: on_time, late, open,
  or NULL when it stopped before its deadline);
- `stat_reviews`: an accepted review (callback needed, concluded) and the callback that
  concluded it (the answer's day, satisfied, resolved).
Facts hold no `now`: a clock still running is `open`, and whether it was missed is decided when
the figures are read (its deadline's day before today: missed; today: the fact's deadline says).

`stat_daily` sums the facts' counts by local day in several *slices*: the whole key (day ×
channel × type × category × department × street × cell) and smaller ones that the usual
questions read fast (totals; by channel, type, category, department, street; street × cell;
the pairs of dimensions the dashboard asks, a filter and a grouping or two filters: `SLICES`).
Each slice has daily rows and monthly rows (slice name + "/m", dated the month's first day):
a query reads the smallest slice that holds its filters and its grouping, the whole months of
its period that ended before the current month from the monthly rows, the other days from the
daily rows. A drill-down lists the facts themselves, a page cut in index order before its
tickets are joined.

Keeping it current:
1. `install()` hooks every session's commit: a transaction that writes ticket events also
   writes their tickets' ids to `stat_pending` (nothing when it rolls back).
2. `refresh(session)` (the workers and the embedded runner call it) takes pending ids in
   batches under the one lock row `stat_head`, recomputes those tickets' facts from their rows
   and events, and adds the difference between their new and old counts to `stat_daily`.
   Transactions that commit out of event-id order are no problem: a pending row is taken once
   it is committed, whatever its id, and the facts are recomputed from the current state.
3. `rebuild(session)` recomputes everything from scratch (`hotline stats rebuild`), in one
   transaction: the figures read meanwhile are the old ones. It is set-based SQL (PostgreSQL
   and SQLite alike) giving the rows `compute_facts`, `contributions` and `_add_to_slices`
   give: each fact table by one INSERT ... SELECT over the raw tables, then the facts'
   contributions added up once by day and full key, and each slice from the smallest rows
   already added up that hold its dimensions, written in the order of stat_daily's key.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    delete,
    event,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from dispatch.core.db import Base, UTCDateTime, insert_ignoring_duplicates, upsert_insert, utcnow
from dispatch.core.models import Assignment, Event, Extension, Ticket
from dispatch.core.sqldates import local_date, month_start
from dispatch.core.vocab import Outcome, Status
from dispatch.stats.metrics import (
    COMPLETED_OR_LATER,
    CONCLUDED,
    DIMENSIONS,
    LATE,
    ON_TIME,
    OPEN,
    SATISFIED,
    DateRange,
    Dims,
    DrillItem,
    DrillPage,
    Filters,
    Group,
    Tally,
    Unit,
    dim_columns,
    empty_tally,
    flag,
    local_day,
)

# ---------------------------------------------------------------- tables

DIM_SIZES = {"channel": 16, "type": 16, "category": 80, "department": 40, "street": 40, "cell": 40}

# What stat_daily adds up per day and key (clocks: on time, late, still open).
COUNTERS = (
    "intake",
    "void",
    "direct_answer",
    "repeat",
    "dispatched",
    "completed",
    "reopened",
    "dispatches",
    "returned",
    "extended",
    "sign_on_time",
    "sign_late",
    "sign_open",
    "complete_on_time",
    "complete_late",
    "complete_open",
    "callback_needed",
    "callback_done",
    "answered",
    "satisfied",
    "resolved",
)
OPEN_COUNTERS = ("sign_open", "complete_open")
PLAIN_COUNTERS = tuple(c for c in COUNTERS if c not in OPEN_COUNTERS)
# The counters that are parts of a tally as they are (the clocks' parts are made of three).
_TALLIED = tuple(c for c in COUNTERS if not c.startswith(("sign_", "complete_")))

# The slices of stat_daily: name → the dimensions kept (the others are ''). Besides the totals,
# one slice per dimension and the full key, the pairs the dashboard asks (a filter on street,
# channel or category with a grouping, or two of those filters) and the small ones only the API
# reaches (type × department); pairs as large as the full key (category × cell, department ×
# cell, type × cell) are left to it.
SLICES: dict[str, tuple[str, ...]] = {
    "total": (),
    "channel": ("channel",),
    "type": ("type",),
    "category": ("category",),
    "department": ("department",),
    "street": ("street",),
    "cell": ("street", "cell"),
    "ch+ty": ("channel", "type"),
    "ch+ca": ("channel", "category"),
    "ch+de": ("channel", "department"),
    "ch+st": ("channel", "street"),
    "ch+ce": ("channel", "street", "cell"),
    "ty+ca": ("type", "category"),
    "ty+de": ("type", "department"),
    "ty+st": ("type", "street"),
    "ca+de": ("category", "department"),
    "ca+st": ("category", "street"),
    "de+st": ("department", "street"),
    "full": DIMENSIONS,
}
FULL = "full"

MONTHLY = "/m"  # suffix of a slice's monthly rows (day = the month's first day)

# Actions that change nothing a metric counts: their tickets are not recomputed.
IDLE_ACTIONS = frozenset({"urge", "supervise", "note", "call_transfer", "police_accept"})


class _Dimensions:
    """The dimension columns every fact row carries ('' where not set)."""

    channel: Mapped[str] = mapped_column(String(DIM_SIZES["channel"]))
    type: Mapped[str] = mapped_column(String(DIM_SIZES["type"]))
    category: Mapped[str] = mapped_column(String(DIM_SIZES["category"]))
    department: Mapped[str] = mapped_column(String(DIM_SIZES["department"]))
    street: Mapped[str] = mapped_column(String(DIM_SIZES["street"]))
    cell: Mapped[str] = mapped_column(String(DIM_SIZES["cell"]))


def _drill_order(table: str, day: str, refs: tuple[str, ...], flags: tuple[str, ...]) -> Index:
    """The index a drill-down page is read from, in its order (day, ticket, unit), holding
    too (PostgreSQL: INCLUDE) the columns the parts dated by that day are told apart by and
    the fact's key, so that the units before a far page are skipped in the index alone. It
    also serves any condition on the day."""
    return Index(
        f"ix_{table}_{day}_drill",
        day,
        "ticket_id",
        *refs[:1],
        postgresql_include=[*refs[1:], *flags],
    )


def _fact_id(**kwargs: Any) -> Any:
    """An id column of the raw tables copied into a fact. Facts are derived data, rebuilt
    from the raw tables at will: no foreign key (its check per row took nearly half the time
    a rebuild spends writing the facts)."""
    return mapped_column(Integer, autoincrement=False, **kwargs)


class StatTicket(_Dimensions, Base):
    """What the metrics count of one ticket."""

    __tablename__ = "stat_tickets"
    __table_args__ = (
        _drill_order("stat_tickets", "created_day", (), ("void", "direct_answer", "repeat")),
        _drill_order("stat_tickets", "dispatched_day", (), ("completed", "reopened")),
    )

    ticket_id: Mapped[int] = _fact_id(primary_key=True)
    created_day: Mapped[date] = mapped_column(Date)
    void: Mapped[bool] = mapped_column(Boolean)
    direct_answer: Mapped[bool] = mapped_column(Boolean)
    repeat: Mapped[bool] = mapped_column(Boolean)
    dispatched_day: Mapped[date | None] = mapped_column(Date)
    completed: Mapped[bool] = mapped_column(Boolean)
    reopened: Mapped[bool] = mapped_column(Boolean)


_SIGN_OPEN = "sign_state = 'open'"
_COMPLETE_OPEN = "complete_state = 'open'"


class StatAssignment(_Dimensions, Base):
    """What the metrics count of one assignment (its department is the assignment's)."""

    __tablename__ = "stat_assignments"
    __table_args__ = (
        # Clocks still running: the few rows `overdue_now` reads (the ticket id included, so
        # that counting tickets needs no visit to the table).
        Index(
            "ix_stat_assignments_sign_open",
            "sign_deadline",
            "ticket_id",
            postgresql_where=text(_SIGN_OPEN),
            sqlite_where=text(_SIGN_OPEN),
        ),
        Index(
            "ix_stat_assignments_complete_open",
            "complete_deadline",
            "ticket_id",
            postgresql_where=text(_COMPLETE_OPEN),
            sqlite_where=text(_COMPLETE_OPEN),
        ),
        _drill_order(
            "stat_assignments", "dispatched_day", ("assignment_id",), ("returned", "extended")
        ),
        *(
            _drill_order(
                "stat_assignments", f"{c}_day", ("assignment_id",), (f"{c}_state", f"{c}_deadline")
            )
            for c in ("sign", "complete")
        ),
    )

    assignment_id: Mapped[int] = _fact_id(primary_key=True)
    ticket_id: Mapped[int] = _fact_id(index=True)
    dispatched_day: Mapped[date] = mapped_column(Date)
    returned: Mapped[bool] = mapped_column(Boolean)
    extended: Mapped[bool] = mapped_column(Boolean)
    sign_day: Mapped[date] = mapped_column(Date)
    sign_state: Mapped[str | None] = mapped_column(String(8))
    sign_deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    complete_day: Mapped[date] = mapped_column(Date)
    complete_state: Mapped[str | None] = mapped_column(String(8))
    complete_deadline: Mapped[datetime] = mapped_column(UTCDateTime())


class StatReview(_Dimensions, Base):
    """What the metrics count of one accepted review and of the callback that concluded it
    (its department is the lead department of the round reviewed)."""

    __tablename__ = "stat_reviews"
    __table_args__ = (
        _drill_order(
            "stat_reviews", "reviewed_day", ("event_id",), ("callback_needed", "callback_done")
        ),
        _drill_order(
            "stat_reviews",
            "answered_day",
            ("callback_event_id", "event_id"),
            ("satisfied", "resolved"),
        ),
    )

    event_id: Mapped[int] = _fact_id(primary_key=True)
    ticket_id: Mapped[int] = _fact_id(index=True)
    reviewed_day: Mapped[date] = mapped_column(Date)
    callback_needed: Mapped[bool] = mapped_column(Boolean)
    callback_done: Mapped[bool] = mapped_column(Boolean)
    callback_event_id: Mapped[int | None] = _fact_id()
    answered_day: Mapped[date | None] = mapped_column(Date)
    satisfied: Mapped[bool] = mapped_column(Boolean)
    resolved: Mapped[bool] = mapped_column(Boolean)


class StatPending(Base):
    """A ticket whose facts must be recomputed (written with its events, taken by refresh)."""

    __tablename__ = "stat_pending"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))


class StatHead(Base):
    """One row: its lock lets one refresh or rebuild run at a time; when they last ran."""

    __tablename__ = "stat_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rebuilt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


stat_daily = Table(
    "stat_daily",
    Base.metadata,
    Column("slice", String(12), primary_key=True),
    Column("day", Date, primary_key=True),
    *(Column(d, String(DIM_SIZES[d]), primary_key=True) for d in DIMENSIONS),
    *(Column(c, Integer, nullable=False) for c in COUNTERS),
)


# ---------------------------------------------------------------- facts of a ticket


class FactSet(NamedTuple):
    """The fact rows of one ticket, as dicts keyed by column."""

    ticket: dict[str, Any] | None
    assignments: tuple[dict[str, Any], ...] = ()
    reviews: tuple[dict[str, Any], ...] = ()


NO_FACTS = FactSet(None)


def _clock(deadline: datetime, done: datetime | None, a: Any) -> str | None:
    """How an assignment's clock ended (metrics module docstring): None when it stopped
    before its deadline without being done."""
    if done is not None:
        return ON_TIME if done <= deadline else LATE
    if a.returned_at is not None:
        return LATE if a.returned_at > deadline else None
    if a.closed_at is not None:
        return LATE if a.closed_at > deadline else None
    return OPEN


def compute_facts(
    t: Any, assignments: Sequence[Any], approved: set[int], events: Sequence[Any]
) -> FactSet:
    """A ticket's facts from its row, its assignments (by id), the ids of its assignments with
    an approved extension, and its dispatch, review_accept and callback events (by id)."""
    base = {
        "channel": t.channel or "",
        "type": t.type or "",
        "category": t.category_code or "",
        "street": t.street_code or "",
        "cell": t.cell_code or "",
    }
    leads = [a for a in assignments if a.role == "lead"]
    void = t.status == Status.VOID
    first = min((a.dispatched_at for a in assignments), default=None)
    ticket = {
        "ticket_id": t.id,
        **base,
        "department": leads[-1].department_code if leads else "",
        "created_day": local_day(t.created_at),
        "void": void,
        "direct_answer": not void and t.outcome == Outcome.DIRECT_ANSWER,
        "repeat": not void and t.parent_id is not None,
        "dispatched_day": local_day(first) if first is not None else None,
        "completed": first is not None and t.status in COMPLETED_OR_LATER,
        "reopened": any(e.action == "callback" and e.to_status == Status.REOPENED for e in events),
    }
    rows = []
    for a in assignments:
        rows.append(
            {
                "assignment_id": a.id,
                "ticket_id": t.id,
                **base,
                "department": a.department_code,
                "dispatched_day": local_day(a.dispatched_at),
                "returned": a.returned_at is not None,
                "extended": a.id in approved,
                "sign_day": local_day(a.sign_deadline),
                "sign_deadline": a.sign_deadline,
                "sign_state": _clock(a.sign_deadline, a.signed_at, a),
                "complete_day": local_day(a.complete_deadline),
                "complete_deadline": a.complete_deadline,
                "complete_state": _clock(a.complete_deadline, a.completed_at, a),
            }
        )
    reviews: list[dict[str, Any]] = []
    lead, waiting = "", None
    for e in events:
        payload = e.payload or {}
        if e.action == "dispatch":
            lead = payload.get("lead") or ""
        elif e.action == "review_accept":
            waiting = {
                "event_id": e.id,
                "ticket_id": t.id,
                **base,
                "department": lead,
                "reviewed_day": local_day(e.at),
                "callback_needed": bool(payload.get("callback_needed", True)),
                "callback_done": False,
                "callback_event_id": None,
                "answered_day": None,
                "satisfied": False,
                "resolved": False,
            }
            reviews.append(waiting)
        elif e.action == "callback" and e.to_status in CONCLUDED and waiting is not None:
            waiting["callback_done"], waiting["callback_event_id"] = True, e.id
            if payload.get("reached"):
                waiting["answered_day"] = local_day(e.at)
                waiting["satisfied"] = payload.get("satisfaction") in SATISFIED
                waiting["resolved"] = payload.get("resolved") is True
            waiting = None
    return FactSet(ticket, tuple(rows), tuple(reviews))


Contribution = tuple[date, Dims, str]  # (day, dimensions, counter)


def _dims_of(row: dict[str, Any]) -> Dims:
    return Dims(*(row[d] for d in DIMENSIONS))


def contributions(facts: FactSet) -> dict[Contribution, int]:
    """What a ticket's facts add to stat_daily: +1 per (day, dimensions, counter)."""
    out: dict[Contribution, int] = defaultdict(int)

    def add(day: date | None, dims: Dims, *counters: str) -> None:
        if day is not None:
            for c in counters:
                out[(day, dims, c)] += 1

    t = facts.ticket
    if t is not None:
        dims = _dims_of(t)
        if t["void"]:
            add(t["created_day"], dims, "void")
        else:
            add(t["created_day"], dims, "intake", *(c for c in ("direct_answer", "repeat") if t[c]))
        add(
            t["dispatched_day"], dims, "dispatched", *(c for c in ("completed", "reopened") if t[c])
        )
    for a in facts.assignments:
        dims = _dims_of(a)
        add(a["dispatched_day"], dims, "dispatches", *(c for c in ("returned", "extended") if a[c]))
        for clock in ("sign", "complete"):
            state = a[f"{clock}_state"]
            if state is not None:
                add(a[f"{clock}_day"], dims, f"{clock}_{state}")
    for r in facts.reviews:
        dims = _dims_of(r)
        if r["callback_needed"]:
            add(
                r["reviewed_day"],
                dims,
                "callback_needed",
                *(("callback_done",) if r["callback_done"] else ()),
            )
        add(r["answered_day"], dims, "answered", *(c for c in ("satisfied", "resolved") if r[c]))
    return out


# ---------------------------------------------------------------- reading and writing facts

_FACT_TABLES = (StatTicket.__table__, StatAssignment.__table__, StatReview.__table__)
_FACT_EVENTS = ("dispatch", "review_accept", "callback")


def _compute(session: Session, ids: Sequence[int]) -> dict[int, FactSet]:
    tickets = session.execute(
        select(
            Ticket.id,
            Ticket.status,
            Ticket.outcome,
            Ticket.parent_id,
            Ticket.channel,
            Ticket.type,
            Ticket.category_code,
            Ticket.street_code,
            Ticket.cell_code,
            Ticket.created_at,
        ).where(Ticket.id.in_(ids))
    ).all()
    a = Assignment
    assignments: dict[int, list[Any]] = defaultdict(list)
    for row in session.execute(
        select(
            a.id,
            a.ticket_id,
            a.department_code,
            a.role,
            a.dispatched_at,
            a.sign_deadline,
            a.signed_at,
            a.complete_deadline,
            a.completed_at,
            a.returned_at,
            a.closed_at,
        )
        .where(a.ticket_id.in_(ids))
        .order_by(a.id)
    ):
        assignments[row.ticket_id].append(row)
    approved = set(
        session.scalars(
            select(Extension.assignment_id).where(
                Extension.ticket_id.in_(ids), Extension.status == "approved"
            )
        )
    )
    events: dict[int, list[Any]] = defaultdict(list)
    for row in session.execute(
        select(Event.id, Event.ticket_id, Event.action, Event.at, Event.to_status, Event.payload)
        .where(Event.ticket_id.in_(ids), Event.action.in_(_FACT_EVENTS))
        .order_by(Event.id)
    ):
        events[row.ticket_id].append(row)
    return {t.id: compute_facts(t, assignments[t.id], approved, events[t.id]) for t in tickets}


def _stored(session: Session, ids: Sequence[int]) -> dict[int, FactSet]:
    found: dict[int, list[Any]] = defaultdict(lambda: [None, [], []])
    for i, table in enumerate(_FACT_TABLES):
        order = list(table.primary_key.columns)
        for row in session.execute(
            select(table).where(table.c.ticket_id.in_(ids)).order_by(*order)
        ):
            entry = found[row.ticket_id]
            if i == 0:
                entry[0] = dict(row._mapping)
            else:
                entry[i].append(dict(row._mapping))
    return {tid: FactSet(t, tuple(a), tuple(r)) for tid, (t, a, r) in found.items()}


def _apply(session: Session, ids: Sequence[int]) -> int:
    """Recompute the facts of these tickets and add the change to the rollups; how many
    tickets' facts changed."""
    if not ids:
        return 0
    new = _compute(session, ids)
    old = _stored(session, ids)
    changed = [tid for tid in ids if new.get(tid, NO_FACTS) != old.get(tid, NO_FACTS)]
    if not changed:
        return 0
    delta: dict[Contribution, int] = defaultdict(int)
    for tid in changed:
        for key, n in contributions(new.get(tid, NO_FACTS)).items():
            delta[key] += n
        for key, n in contributions(old.get(tid, NO_FACTS)).items():
            delta[key] -= n
    for table in _FACT_TABLES:
        session.execute(delete(table).where(table.c.ticket_id.in_(changed)))
    fresh = [new[tid] for tid in changed if tid in new]
    for i, table in enumerate(_FACT_TABLES):
        rows = [f.ticket for f in fresh] if i == 0 else [r for f in fresh for r in f[i]]
        if rows:
            session.execute(table.insert(), rows)
    _add_to_slices(session, delta)
    return len(changed)


def _add_to_slices(session: Session, delta: dict[Contribution, int]) -> None:
    rows: dict[tuple[Any, ...], dict[str, int]] = {}
    for (day, dims, counter), n in delta.items():
        if not n:
            continue
        for name, kept in SLICES.items():
            values = tuple(getattr(dims, d) if d in kept else "" for d in DIMENSIONS)
            for key in ((name, day, *values), (name + MONTHLY, day.replace(day=1), *values)):
                rows.setdefault(key, dict.fromkeys(COUNTERS, 0))[counter] += n
    values = [
        dict(zip(("slice", "day", *DIMENSIONS), key, strict=True)) | counts
        for key, counts in sorted(rows.items())
        if any(counts.values())
    ]
    if not values:
        return
    ins = upsert_insert(session, stat_daily)
    stmt = ins.on_conflict_do_update(
        index_elements=[
            stat_daily.c.slice,
            stat_daily.c.day,
            *(stat_daily.c[d] for d in DIMENSIONS),
        ],
        set_={c: stat_daily.c[c] + ins.excluded[c] for c in COUNTERS},
    )
    session.execute(stmt, values)


def facts_of(session: Session, ticket_id: int) -> FactSet:
    """The stored facts of one ticket (for tests and inspection)."""
    return _stored(session, [ticket_id]).get(ticket_id, NO_FACTS)


# ---------------------------------------------------------------- rebuilding in SQL
#
# The same facts and rollups as `compute_facts`, `contributions` and `_add_to_slices`, computed
# by INSERT ... SELECT over every ticket at once (portable SQL: PostgreSQL and SQLite).


def _ticket_facts() -> Any:
    """SQL: a stat_tickets row per ticket."""
    t, a, lead, e = Ticket, Assignment, aliased(Assignment), aliased(Event)
    per_ticket = (
        select(
            a.ticket_id,
            func.min(a.dispatched_at).label("first_at"),
            func.max(case((a.role == "lead", a.id))).label("lead_id"),
        )
        .group_by(a.ticket_id)
        .subquery()
    )
    not_void = t.status != Status.VOID
    reopened = exists().where(
        e.ticket_id == t.id, e.action == "callback", e.to_status == Status.REOPENED
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
        )
        .outerjoin(per_ticket, per_ticket.c.ticket_id == t.id)
        .outerjoin(lead, lead.id == per_ticket.c.lead_id)
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
    so_far = {"partition_by": e.ticket_id, "order_by": e.id}
    steps = (
        select(
            e.id,
            e.ticket_id,
            e.action,
            e.at,
            e.payload,
            e.to_status,
            func.count(case((e.action == "dispatch", 1))).over(**so_far).label("dispatches"),
            func.count(case((e.action == "review_accept", 1))).over(**so_far).label("reviews"),
        )
        .where(e.action.in_(_FACT_EVENTS))
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
    return result.rowcount


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
        ),
        _contributed(
            t,
            t.dispatched_day,
            t.dispatched_day.is_not(None),
            dispatched=literal(1),
            completed=flag(t.completed.is_(True)),
            reopened=flag(t.reopened.is_(True)),
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


# ---------------------------------------------------------------- keeping it current

_INFO_KEY = "stat_pending_events"


def _collect(session: Session, flush_context: Any) -> None:
    new = [o for o in session.new if isinstance(o, Event)]
    if new:
        session.info.setdefault(_INFO_KEY, []).extend(new)


def _record(session: Session) -> None:
    pending: list[Event] = session.info.pop(_INFO_KEY, [])
    if not pending and not any(isinstance(o, Event) for o in session.new):
        return
    session.flush()  # events added since the last flush get their ticket ids
    pending += session.info.pop(_INFO_KEY, [])
    ids = sorted(
        {e.ticket_id for e in pending if e.action not in IDLE_ACTIONS and e.ticket_id is not None}
    )
    if ids:
        mark_changed(session, ids)


def _forget(session: Session, previous_transaction: Any = None) -> None:
    session.info.pop(_INFO_KEY, None)


def install() -> None:
    """Note the tickets of every ticket event any session commits, for `refresh`
    (idempotent)."""
    if not event.contains(Session, "before_commit", _record):
        event.listen(Session, "after_flush", _collect)
        event.listen(Session, "before_commit", _record)
        event.listen(Session, "after_rollback", _forget)


def installed() -> bool:
    """Whether `install` is in force."""
    return event.contains(Session, "before_commit", _record)


def uninstall() -> None:
    """Undo `install` (tests)."""
    if event.contains(Session, "before_commit", _record):
        event.remove(Session, "after_flush", _collect)
        event.remove(Session, "before_commit", _record)
        event.remove(Session, "after_rollback", _forget)


def mark_changed(session: Session, ticket_ids: Iterable[int]) -> None:
    """Have these tickets' facts recomputed by the next refresh (for writers that bypass the
    ORM events, e.g. bulk loads); part of the caller's transaction."""
    rows = [{"ticket_id": tid} for tid in sorted(set(ticket_ids))]
    if rows:
        session.execute(StatPending.__table__.insert(), rows)


def _lock_head(session: Session, *, wait: bool) -> bool:
    """Take the lock row (False: another refresh or rebuild holds it and `wait` is False)."""
    stmt = select(StatHead.id).where(StatHead.id == 1).with_for_update(skip_locked=not wait)
    if session.scalar(stmt) is not None:
        return True
    insert_ignoring_duplicates(session, StatHead.__table__, [{"id": 1}])
    return session.scalar(stmt) is not None


@dataclass(frozen=True)
class RefreshReport:
    """What one refresh did."""

    tickets: int  # tickets recomputed
    changed: int  # of which the facts changed
    pending: int  # changes still waiting (more than the rounds allowed, or the lock was busy)


def _check_clean(session: Session, what: str) -> None:
    if session.new or session.dirty or session.deleted:
        raise RuntimeError(f"the stats {what} commits: commit your changes first")


def refresh(
    session: Session, *, batch: int = 500, max_rounds: int | None = None, wait: bool = True
) -> RefreshReport:
    """Bring facts and rollups up to date with every change committed so far, `batch` pending
    rows per transaction; commits. With `wait=False` it gives way at once to a refresh or
    rebuild already running."""
    _check_clean(session, "refresh")
    session.commit()
    tickets = changed = rounds = 0
    while max_rounds is None or rounds < max_rounds:
        if session.scalar(select(StatPending.id).limit(1)) is None:
            break
        if not _lock_head(session, wait=wait):
            break
        rows = session.execute(
            select(StatPending.id, StatPending.ticket_id).order_by(StatPending.id).limit(batch)
        ).all()
        ids = sorted({r.ticket_id for r in rows})
        changed += _apply(session, ids)
        session.execute(delete(StatPending).where(StatPending.id.in_([r.id for r in rows])))
        session.execute(update(StatHead).where(StatHead.id == 1).values(refreshed_at=utcnow()))
        session.commit()
        tickets += len(ids)
        rounds += 1
    left = pending_count(session)
    session.commit()
    return RefreshReport(tickets, changed, left)


def pending_count(session: Session) -> int:
    """How many committed changes the rollups have not taken yet."""
    return session.scalar(select(func.count()).select_from(StatPending)) or 0


def rebuild(session: Session) -> int:
    """Recompute every fact and rollup from the tickets, assignments, extensions and events,
    by set-based SQL (`_rebuild_facts`, `_rebuild_slices`), in one transaction; commits and
    returns the number of tickets."""
    _check_clean(session, "rebuild")
    session.commit()
    _lock_head(session, wait=True)
    for table in (stat_daily, *_FACT_TABLES, StatPending.__table__):
        session.execute(delete(table))
    count = _rebuild_facts(session)
    _rebuild_slices(session)
    session.execute(update(StatHead).where(StatHead.id == 1).values(rebuilt_at=utcnow()))
    session.commit()
    return count


# ---------------------------------------------------------------- reading figures


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


def _unit_query(part: str, now: datetime) -> tuple[Any, Any, Any, Any, Unit] | None:
    """(fact model, day column, condition, reference column, unit) of a part."""
    t, a, r = StatTicket, StatAssignment, StatReview
    ticket_parts = {
        "intake": t.void.is_(False),
        "void": t.void.is_(True),
        "direct_answer": t.direct_answer.is_(True),
        "repeat": t.repeat.is_(True),
    }
    if part in ticket_parts:
        return t, t.created_day, ticket_parts[part], t.ticket_id, Unit.TICKET
    dispatched = {
        "dispatched": true(),
        "completed": t.completed.is_(True),
        "reopened": t.reopened.is_(True),
    }
    if part in dispatched:
        return t, t.dispatched_day, dispatched[part], t.ticket_id, Unit.TICKET
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
        spec = _unit_query(part, now)
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
    for part in _TALLIED:  # the counters that are parts as they are
        tally[part] += counts[part]
    for clock in ("sign", "complete"):
        tally[f"{clock}_on_time"] += counts[f"{clock}_on_time"]
        tally[f"{clock}_due"] += (
            counts[f"{clock}_on_time"] + counts[f"{clock}_late"] + counts[f"{clock}_open"]
        )


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


__all__ = [
    "StatTicket",
    "StatAssignment",
    "StatReview",
    "StatPending",
    "StatHead",
    "stat_daily",
    "SLICES",
    "COUNTERS",
    "FactSet",
    "RefreshReport",
    "ROLLUPS",
    "RollupSource",
    "install",
    "installed",
    "uninstall",
    "mark_changed",
    "refresh",
    "rebuild",
    "pending_count",
    "compute_facts",
    "contributions",
    "facts_of",
    "slice_for",
    "slice_rows",
    "month_split",
]
