"""The clock sweep: warnings, overdue marks, automatic urges and supervision, each fired once.

Clocks live in the assignment rows (warning and deadline times, ARCHITECTURE.md); a periodic
caller (the embedded runner, later Celery beat) calls `sweep_clocks`, which fires every step
that has come due and marks it in the same transaction, so a step fires once however many
sweeps and workers run.

Locking: every writer in this project locks a ticket before its assignments
(`lifecycle.lock_ticket`). The sweep keeps that order: it claims a batch of tickets that have
a due step with `FOR UPDATE SKIP LOCKED` (ticket-id order, so two sweepers cannot deadlock and
a ticket a person is acting on is left for the next sweep), then locks and re-reads the due
assignments of the claimed tickets, fires, and commits the batch. Locking assignments first
would deadlock against a handler signing (ticket lock held, waiting on the assignment).
A failure rolls back its batch only; the batch is redone a ticket at a time and the failing
ticket set aside. SQLite has no row locks: there the claim is a plain select.

Set-based: a batch costs a fixed dozen statements, not a few per step. The due tickets are read
for several batches at once from the partial clock indexes; a batch's tickets claimed in one
statement, their assignments and extensions (what the console's summary reads) in one each,
its due assignments locked in one, the recipients in one or two, its urge/supervise events in
one flush (written as `perform` writes them, same checks, same consequences owed, the table of
consequences run once at the batch's commit), its SMS rows in one (`outbox.enqueue_many`), the
marks in one UPDATE per kind of mark, the tickets' versions in one more. On PostgreSQL a set
of ids is one array parameter (`= ANY`), and the events' ids are drawn from their sequence in
one statement so that their INSERT is short: psycopg's cost is per parameter of a statement.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Integer, any_, func, literal, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from dispatch.core.models import Assignment, Event, Extension, Ticket, User
from dispatch.core.ports import DepartmentRef, Directory, PublishedEvent
from dispatch.core.vocab import OPEN_STATES, Status
from dispatch.outbound import outbox
from dispatch.tickets.clock_steps import (
    Fired,
    Marks,
    Step,
    due_now,
    escalation_cutoff,
    handler_phones,
    notice_text,
    steps_due,
    urge_reason,
)
from dispatch.tickets.clocks import (
    TimeLimits,
    add_working_days,
    get_time_limits,
)
from dispatch.tickets.delegation_clock import sweep_delegation_clocks
from dispatch.tickets.lifecycle import SYSTEM, check, consequences, lead_assignment
from dispatch.tickets.resumes import resume_due_suspensions

_log = logging.getLogger(__name__)

SMS_TOPIC = "sms.notice"
READ_AHEAD = 10  # batches' worth of due tickets read by one query of the clock indexes


@dataclass(frozen=True)
class SweepReport:
    """What one sweep did: steps fired, events written (committed), tickets set aside."""

    fired: tuple[Fired, ...] = ()
    events: tuple[PublishedEvent, ...] = ()
    notices: int = 0
    failed_tickets: tuple[int, ...] = ()

    def count(self, step: Step) -> int:
        """How many times `step` of an assignment's clock fired in this sweep."""
        return sum(1 for f in self.fired if f.step == step and f.delegation_id is None)

    @property
    def delegation_urges(self) -> int:
        """How many delegated steps' clocks fired (`dispatch.tickets.delegation_clock`)."""
        return sum(1 for f in self.fired if f.delegation_id is not None)

    @property
    def sign_warnings(self) -> int:
        return self.count(Step.SIGN_WARNING)

    @property
    def sign_overdue(self) -> int:
        return self.count(Step.SIGN_OVERDUE)

    @property
    def complete_warnings(self) -> int:
        return self.count(Step.COMPLETE_WARNING)

    @property
    def complete_overdue(self) -> int:
        return self.count(Step.COMPLETE_OVERDUE)

    @property
    def supervisions(self) -> int:
        return self.count(Step.SUPERVISION)


class NoDirectory:
    """urge and supervise never look a department up; perform wants a directory all the same."""

    def department(self, code: str) -> DepartmentRef | None:
        return None


# ---------------------------------------------------------------- the sweep


@dataclass
class _Batch:
    fired: list[Fired]
    events: list[Event]
    notices: int = 0


class _Sweep:
    """What stays the same for the whole sweep: the moment, the limits, the supervision
    deadline (the same for every ticket supervised at `now`, computed once when first needed)."""

    def __init__(self, session: Session, now: datetime, cutoff: datetime, limits: TimeLimits,
                 directory: Directory) -> None:
        self.session, self.now, self.cutoff = session, now, cutoff
        self.limits, self.directory = limits, directory
        self.pg = session.get_bind().dialect.name == "postgresql"
        self._supervision: tuple[datetime, dict[str, object]] | None = None

    def supervision(self) -> tuple[datetime, dict[str, object]]:
        """The deadline and event payload of `supervise` at `now` (as `perform` would write)."""
        if self._supervision is None:
            days = self.limits.supervision_days
            deadline = add_working_days(self.session, self.now, days)
            self._supervision = (deadline.at, {"deadline": deadline.at.isoformat(),
                                               "days": days,
                                               "deadline_provisional": deadline.provisional})
        return self._supervision


def sweep_clocks(session: Session, now: datetime, *, limit: int = 500,
                 directory: Directory | None = None) -> SweepReport:
    """Fire every clock step due at `now` once (urge, outbox SMS, mark); commits per batch."""
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("the clock sweep commits: flush and commit your changes first")
    limits = get_time_limits(session)
    cutoff = escalation_cutoff(session, now, limits.supervision_overdue_days)
    session.commit()  # calendar years filled in for the cutoff; start the batches afresh
    sweep = _Sweep(session, now, cutoff, limits, directory or NoDirectory())
    fired: list[Fired] = []
    # Suspended clocks whose end date has come run again first (挂起, dispatch.tickets.resumes).
    published: list[PublishedEvent] = resume_due_suspensions(session, now, sweep.directory)
    # Then the delegated steps' own clocks (下派, dispatch.tickets.delegation_clock).
    delegated = sweep_delegation_clocks(session, now, limit=limit)
    fired += delegated.fired
    published += delegated.events
    notices = delegated.notices
    failed: set[int] = set()
    after = 0  # keyset over ticket ids: every ticket is visited once per sweep
    queue: list[int] = []  # due tickets read ahead, a few batches' worth, in id order
    one_by_one_until = 0  # after a failed batch: its tickets one at a time, to find the culprit
    while True:
        session.expire_all()  # re-read rows another sweeper or a person may have changed
        if not queue:
            # The due tickets first, planned on their own (a materialised CTE): that reads
            # only the partial clock indexes. With the ORDER BY … LIMIT folded in, PostgreSQL
            # walked every open assignment in ticket order (1 M rows, ~230 ms, each idle
            # minute). Read for several batches at once: each read visits every due row.
            due = select(Assignment.ticket_id).where(due_now(now, cutoff),
                                                     Assignment.ticket_id > after)
            if failed:
                due = due.where(Assignment.ticket_id.not_in(failed))
            due_cte = due.cte("due").prefix_with("MATERIALIZED", dialect="postgresql")
            queue = list(session.scalars(
                select(due_cte.c.ticket_id).distinct().order_by(due_cte.c.ticket_id)
                .limit(limit * READ_AHEAD)))
            if not queue:
                session.rollback()
                break
        size = 1 if queue[0] <= one_by_one_until else limit
        candidates, queue = queue[:size], queue[size:]
        claim = (select(Ticket)
                 .where(_among(Ticket.id, candidates, sweep.pg),
                        Ticket.status.in_(OPEN_STATES))
                 .order_by(Ticket.id).with_for_update(skip_locked=True, of=Ticket))
        tickets = list(session.scalars(claim))
        if not tickets:  # all taken by another sweeper (or closed): go on past them
            session.rollback()
            after = candidates[-1]
            continue
        _load_children(sweep, tickets)
        batch = _Batch([], [])
        try:
            _sweep_batch(sweep, tickets, batch)
            events = [PublishedEvent(e.id, e.ticket_id, e.ticket.number, e.action,
                                     e.from_status, e.to_status) for e in batch.events]
            session.commit()  # the table of consequences runs on the batch's events here
        except Exception:
            session.rollback()
            if len(tickets) == 1:  # set the ticket aside for this sweep (the next one retries)
                _log.exception("clock sweep: ticket %s failed; skipped until the next sweep",
                               tickets[0].id)
                failed.add(tickets[0].id)
                after = candidates[-1]
            else:  # redo the batch a ticket at a time: only the failing one is set aside
                _log.warning("clock sweep: a batch of %d tickets failed; redone one by one",
                             len(tickets))
                one_by_one_until = candidates[-1]
                queue = candidates + queue
            continue
        fired += batch.fired
        published += events
        notices += batch.notices
        after = candidates[-1]
    return SweepReport(tuple(fired), tuple(published), notices,
                       tuple(sorted(failed | delegated.failed)))


def _among(column: Any, ids: Sequence[int], pg: bool) -> ColumnElement[bool]:
    """`column IN ids`; on PostgreSQL `column = ANY(array)`: one parameter, not one an id
    (psycopg converts a statement parameter by parameter: a 500-id IN cost more than its run).
    """
    if pg:
        return column == any_(literal(list(ids), ARRAY(Integer)))
    return column.in_(ids)


def _load_children(sweep: _Sweep, tickets: list[Ticket]) -> None:
    """What the console's summary of each claimed ticket reads, its assignments and extensions,
    read once for the batch (a query each) and set as the tickets' loaded collections."""
    ids = [t.id for t in tickets]
    _set_children(tickets, "assignments", sweep.session.scalars(
        select(Assignment).where(_among(Assignment.ticket_id, ids, sweep.pg))
        .order_by(Assignment.ticket_id, Assignment.id)))
    _set_children(tickets, "extensions", sweep.session.scalars(
        select(Extension).where(_among(Extension.ticket_id, ids, sweep.pg))
        .order_by(Extension.ticket_id, Extension.id)))


def _set_children(tickets: list[Ticket], name: str,
                  rows: Iterable[Assignment | Extension]) -> None:
    children: dict[int, list[Assignment | Extension]] = {t.id: [] for t in tickets}
    for child in rows:  # in (ticket, id) order: each collection in id order, as it is mapped
        children[child.ticket_id].append(child)
    for t in tickets:
        set_committed_value(t, name, children[t.id])


# Ids for a batch's events from their own sequence, in order: the flush is then one short
# INSERT sent for every row in a pipeline, not one INSERT … RETURNING of 9 parameters a row.
_EVENT_IDS_PG = text("SELECT nextval(pg_get_serial_sequence('events', 'id')) AS id "
                     "FROM generate_series(1, :n) ORDER BY id")


def _sweep_batch(sweep: _Sweep, tickets: list[Ticket], batch: _Batch) -> None:
    """Fire the due steps of a batch of claimed (locked) tickets, set-based: one locking read of
    their due assignments, one read of the recipients, the events in one flush, the SMS rows in
    one INSERT, the marks in one UPDATE per kind of mark, the tickets' versions in one UPDATE."""
    session, now, cutoff = sweep.session, sweep.now, sweep.cutoff
    by_id = {t.id: t for t in tickets}
    # The tickets are locked and their assignments read (`_load_children`, in this
    # transaction): lock their due ones and work out, for each, the steps due and the marks
    # they set.
    due = set(session.scalars(
        select(Assignment.id)
        .where(_among(Assignment.ticket_id, list(by_id), sweep.pg), due_now(now, cutoff))
        .order_by(Assignment.ticket_id, Assignment.id).with_for_update()))
    rows = [a for t in tickets for a in t.assignments if a.id in due]
    plans = [(a, *steps_due(a, now, cutoff)) for a in rows]
    recipients = _Recipients(session, [a for a, steps, _ in plans if steps])
    sms: list[dict[str, object]] = []
    versions: dict[int, int] = {}
    supervised: list[int] = []
    for a, steps, _marks in plans:
        ticket = by_id[a.ticket_id]
        for step in steps:
            deadline = _fire(sweep, ticket, a, step, batch)
            if deadline is None:
                continue
            versions[ticket.id] = versions.get(ticket.id, 0) + 1
            if step == Step.SUPERVISION:
                supervised.append(ticket.id)
            notice = notice_text(step, ticket.number, deadline)
            # The deadline is in the key: a clock moved by an extension notifies again.
            stamp = int(deadline.timestamp())
            for user_id, phone in recipients.of(a):
                sms.append({"key": f"{SMS_TOPIC}:{a.id}:{step}:{stamp}:{user_id}",
                            "ticket_id": ticket.id,
                            "payload": {"to": phone, "text": notice, "ticket_no": ticket.number,
                                        "kind": str(step)}})
    _write_marks(sweep, [(a, marks) for a, steps, marks in plans if marks])
    _write_tickets(sweep, by_id, versions, supervised)
    if sweep.pg and batch.events:
        ids = session.scalars(_EVENT_IDS_PG, {"n": len(batch.events)}).all()
        for e, event_id in zip(batch.events, ids, strict=True):
            e.id = event_id
    session.add_all(batch.events)
    session.flush()  # the events: one INSERT (on PostgreSQL, sent for each row in a pipeline)
    batch.notices += outbox.enqueue_many(session, SMS_TOPIC, sms, now=now)


def _fire(sweep: _Sweep, ticket: Ticket, a: Assignment, step: Step,
          batch: _Batch) -> datetime | None:
    """The event of one step, as `perform` writes it (same checks, same consequences owed),
    added to the batch; the deadline its SMS names, or None when nothing is owed (the ticket
    is supervised already)."""
    if step == Step.SUPERVISION:
        if ticket.supervised:
            return None
        deadline, payload = sweep.supervision()
        action = "supervise"
        reason = f"超过办理时限{sweep.limits.supervision_overdue_days}个工作日，自动督办"
        set_committed_value(ticket, "supervised", True)
        set_committed_value(ticket, "supervise_deadline", deadline)
    else:
        action = "urge"
        reason = urge_reason(step, sweep.limits.warning_ratio)
        if a.role != "lead":  # the urge event names the lead; say whose clock this was
            dept = sweep.directory.department(a.department_code)
            reason += f"（协办：{dept.name if dept else a.department_code}）"
        lead = lead_assignment(ticket)
        payload = {"department": lead.department_code if lead else None}
        deadline = a.sign_deadline if step in (Step.SIGN_WARNING, Step.SIGN_OVERDUE) \
            else a.complete_deadline
    check(action, Status(ticket.status), SYSTEM.role)
    # The console tells a warning from an overdue by clock_step.
    batch.events.append(Event(
        ticket_id=ticket.id, at=sweep.now, actor_id=SYSTEM.id, actor_role=SYSTEM.role,
        action=action, from_status=ticket.status, to_status=ticket.status, reason=reason,
        payload={**payload, "clock_step": str(step)}))
    for consequence in consequences():  # what the action owes others (nothing, today)
        consequence(sweep.session, ticket, action, reason, sweep.now)
    batch.fired.append(Fired(a.id, ticket.id, ticket.number, step, sweep.now))
    return deadline


def _write_marks(sweep: _Sweep, marked: list[tuple[Assignment, Marks]]) -> None:
    """One UPDATE per kind of mark (a handful), then the loaded rows told the same."""
    now = sweep.now
    groups: dict[tuple[tuple[str, bool], ...], list[int]] = {}
    for a, marks in marked:
        groups.setdefault(tuple(sorted(marks.items())), []).append(a.id)
        for column, keep in marks.items():
            set_committed_value(a, column, (getattr(a, column) or now) if keep else now)
    table = Assignment.__table__
    for kinds, ids in groups.items():
        values = {column: func.coalesce(table.c[column],
                                        literal(now, type_=table.c[column].type))
                  if keep else now for column, keep in kinds}
        sweep.session.execute(update(table).where(_among(table.c.id, ids, sweep.pg))
                              .values(values))


def _write_tickets(sweep: _Sweep, by_id: dict[int, Ticket], versions: dict[int, int],
                   supervised: list[int]) -> None:
    """Each action on a ticket is a new version of it, updated now (`write_change`); the
    tickets put under supervision get their flag and deadline."""
    table = Ticket.__table__
    by_count: dict[int, list[int]] = {}
    for ticket_id, n in versions.items():
        by_count.setdefault(n, []).append(ticket_id)
        ticket = by_id[ticket_id]
        set_committed_value(ticket, "version", ticket.version + n)
        set_committed_value(ticket, "updated_at", sweep.now)
    for n, ids in by_count.items():
        sweep.session.execute(update(table).where(_among(table.c.id, ids, sweep.pg))
                              .values(version=table.c.version + n, updated_at=sweep.now))
    if supervised:
        deadline, _ = sweep.supervision()
        sweep.session.execute(update(table).where(_among(table.c.id, supervised, sweep.pg))
                              .values(supervised=True, supervise_deadline=deadline))


class _Recipients:
    """Who gets a step's SMS: the assignment's grid worker if reachable, else its department's
    handlers with a phone. Read once per batch."""

    def __init__(self, session: Session, assignments: list[Assignment]) -> None:
        worker_ids = {a.grid_worker_id for a in assignments if a.grid_worker_id is not None}
        self.workers: dict[int, str] = {}
        if worker_ids:
            self.workers = {uid: phone for uid, phone in session.execute(
                select(User.id, User.phone).where(User.id.in_(worker_ids),
                                                  User.active.is_(True))) if phone}
        departments = {a.department_code for a in assignments
                       if a.grid_worker_id not in self.workers}
        self.handlers = handler_phones(session, departments)

    def of(self, a: Assignment) -> list[tuple[int, str]]:
        if a.grid_worker_id is not None and a.grid_worker_id in self.workers:
            return [(a.grid_worker_id, self.workers[a.grid_worker_id])]
        return self.handlers.get(a.department_code, [])


