"""The clock sweep: warnings, overdue marks, automatic urges and supervision, each fired once.

Clocks live in the assignment rows (warning and deadline times, ARCHITECTURE.md); a periodic
caller (the embedded runner, later Celery beat) calls `sweep_clocks`, which fires every step
that has come due and marks it in the same transaction, so a step fires once however many
sweeps and workers run.

Locking: every writer in this project locks a ticket before its assignments
(`lifecycle.lock_ticket`). The sweep keeps that order: it claims a batch of tickets that have
a due step with `FOR UPDATE SKIP LOCKED` (ticket-id order, so two sweepers cannot deadlock and
a ticket a person is acting on is left for the next sweep), then locks and re-reads the due
assignments of each claimed ticket, fires, and commits the batch. Locking assignments first
would deadlock against a handler signing (ticket lock held, waiting on the assignment).
A failure rolls back its batch only; the failing ticket is set aside and the batch redone.
SQLite has no row locks: there the claim is a plain select.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from dispatch.core.models import Assignment, CalendarDay, Event, Ticket, User
from dispatch.core.ports import DepartmentRef, Directory, PublishedEvent
from dispatch.core.vocab import OPEN_STATES, AssignmentStatus, Role
from dispatch.outbound import outbox
from dispatch.tickets.calendar import LOCAL_TZ, ensure_years
from dispatch.tickets.clocks import TimeLimits, end_of_local_day, get_time_limits
from dispatch.tickets.lifecycle import SYSTEM, perform

_log = logging.getLogger(__name__)

SMS_TOPIC = "sms.notice"
SMS_SIGN = "长垣12345"
SMS_MAX = 70  # one Chinese SMS segment, signature included
HANDLING = (AssignmentStatus.DISPATCHED, AssignmentStatus.SIGNED)


class Step(StrEnum):
    """One step of a clock."""

    SIGN_WARNING = "sign_warning"
    SIGN_OVERDUE = "sign_overdue"
    COMPLETE_WARNING = "complete_warning"
    COMPLETE_OVERDUE = "complete_overdue"
    SUPERVISION = "supervision"


@dataclass(frozen=True)
class Fired:
    """A step that fired: which assignment, on which ticket, and when."""

    assignment_id: int
    ticket_id: int
    ticket_number: str
    step: Step
    at: datetime


@dataclass(frozen=True)
class SweepReport:
    """What one sweep did: steps fired, events written (committed), tickets set aside."""

    fired: tuple[Fired, ...] = ()
    events: tuple[PublishedEvent, ...] = ()
    notices: int = 0
    failed_tickets: tuple[int, ...] = ()

    def count(self, step: Step) -> int:
        """How many times `step` fired in this sweep."""
        return sum(1 for f in self.fired if f.step == step)

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


# ---------------------------------------------------------------- texts


def _when(at: datetime) -> str:
    local = at.astimezone(LOCAL_TZ)
    return f"{local.month}月{local.day}日{local:%H:%M}"


def notice_text(step: Step, ticket_number: str, deadline: datetime) -> str:
    """The SMS to the assignee for a clock step (one segment, ≤ 70 characters)."""
    head = f"【{SMS_SIGN}】工单{ticket_number}"
    when = _when(deadline)
    texts = {
        Step.SIGN_WARNING: f"{head}即将超过签收时限，请于{when}前签收。",
        Step.SIGN_OVERDUE: f"{head}已超过签收时限（{when}），请立即签收。",
        Step.COMPLETE_WARNING: f"{head}即将超过办理时限，请于{when}前办结。",
        Step.COMPLETE_OVERDUE: f"{head}已超过办理时限（{when}），请立即办理。",
        Step.SUPERVISION: f"{head}超期已列入督办，请于{when}前办结并反馈。",
    }
    return texts[step]


def _urge_reason(step: Step, ratio: float) -> str:
    return {
        Step.SIGN_WARNING: f"签收时限已过{ratio:.0%}，自动催办",
        Step.SIGN_OVERDUE: "已超过签收时限，自动催办",
        Step.COMPLETE_WARNING: f"办理时限已过{ratio:.0%}，自动催办",
        Step.COMPLETE_OVERDUE: "已超过办理时限，自动催办",
    }[step]


# ---------------------------------------------------------------- what is due


def escalation_cutoff(session: Session, now: datetime, days: int) -> datetime:
    """Completion deadlines before this instant are overdue by more than `days` working days
    at `now`: past the end of the `days`-th working day after the deadline's local day."""
    today = now.astimezone(LOCAL_TZ).date()
    # The N-th working day after the deadline's day must have ended: before today, or today
    # itself in the last fraction of a second after 23:59:59.
    first_open = today + timedelta(days=1) if now > end_of_local_day(today) else today
    ensure_years(session, (first_open.year - 1, first_open.year))  # days ≤ 60: < a year back
    back = session.scalars(
        select(CalendarDay.day).where(CalendarDay.day < first_open,
                                      CalendarDay.working.is_(True))
        .order_by(CalendarDay.day.desc()).limit(days)
    ).all()
    # Deadline day D qualifies iff ≥ N working days lie in (D, first_open), i.e. D < back[-1].
    return datetime.combine(back[-1], time(0), tzinfo=LOCAL_TZ)


def _sign_due(now: datetime) -> ColumnElement[bool]:
    a = Assignment
    return and_(a.status == AssignmentStatus.DISPATCHED, a.sign_overdue_at.is_(None),
                a.sign_warn_at <= now,
                or_(a.sign_warned_at.is_(None), a.sign_deadline < now))


def _complete_due(now: datetime, cutoff: datetime) -> ColumnElement[bool]:
    a = Assignment
    return and_(a.status.in_(HANDLING), a.escalated_at.is_(None), a.complete_warn_at <= now,
                or_(a.complete_warned_at.is_(None),
                    and_(a.complete_overdue_at.is_(None), a.complete_deadline < now),
                    a.complete_deadline < cutoff))


def _due(now: datetime, cutoff: datetime) -> ColumnElement[bool]:
    return and_(Assignment.closed_at.is_(None), or_(_sign_due(now), _complete_due(now, cutoff)))


# ---------------------------------------------------------------- the sweep


@dataclass
class _Batch:
    fired: list[Fired]
    events: list[Event]
    notices: int = 0


def sweep_clocks(session: Session, now: datetime, *, limit: int = 500,
                 directory: Directory | None = None) -> SweepReport:
    """Fire every clock step due at `now` once (urge, outbox SMS, mark); commits per batch."""
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("the clock sweep commits: flush and commit your changes first")
    directory = directory or NoDirectory()
    limits = get_time_limits(session)
    cutoff = escalation_cutoff(session, now, limits.supervision_overdue_days)
    session.commit()  # calendar years filled in for the cutoff; start the batches afresh
    fired: list[Fired] = []
    published: list[PublishedEvent] = []
    notices = 0
    failed: set[int] = set()
    after = 0  # keyset over ticket ids: every ticket is visited once per sweep
    while True:
        session.expire_all()  # re-read rows another sweeper or a person may have changed
        # The due tickets first, planned on their own (a materialised CTE): that reads only
        # the partial clock indexes. With the ORDER BY … LIMIT folded in, PostgreSQL walked
        # every open assignment in ticket order (1 M rows, ~230 ms, each idle minute).
        due = select(Assignment.ticket_id).where(_due(now, cutoff), Assignment.ticket_id > after)
        if failed:
            due = due.where(Assignment.ticket_id.not_in(failed))
        due_cte = due.cte("due").prefix_with("MATERIALIZED", dialect="postgresql")
        candidates = list(session.scalars(
            select(due_cte.c.ticket_id).distinct().order_by(due_cte.c.ticket_id).limit(limit)))
        if not candidates:
            session.rollback()
            break
        claim = (select(Ticket)
                 .where(Ticket.id.in_(candidates), Ticket.status.in_(OPEN_STATES))
                 .order_by(Ticket.id).with_for_update(skip_locked=True, of=Ticket))
        tickets = list(session.scalars(claim))
        if not tickets:  # all taken by another sweeper (or closed): go on past them
            session.rollback()
            after = candidates[-1]
            continue
        batch = _Batch([], [])
        current = tickets[0].id
        try:
            for ticket in tickets:
                current = ticket.id
                _sweep_ticket(session, ticket, now, cutoff, limits, directory, batch)
            session.flush()
            events = [PublishedEvent(e.id, e.ticket_id, e.ticket.number, e.action,
                                     e.from_status, e.to_status) for e in batch.events]
            session.commit()
        except Exception:
            # Set the ticket aside for this sweep (the next one tries again) and redo the rest.
            session.rollback()
            _log.exception("clock sweep: ticket %s failed; skipped until the next sweep", current)
            failed.add(current)
            continue
        fired += batch.fired
        published += events
        notices += batch.notices
        after = candidates[-1]
    return SweepReport(tuple(fired), tuple(published), notices, tuple(sorted(failed)))


def _sweep_ticket(session: Session, ticket: Ticket, now: datetime, cutoff: datetime,
                  limits: TimeLimits, directory: Directory, batch: _Batch) -> None:
    # The ticket is locked: re-read its due assignments (fresh, locked) and fire what is due.
    rows = session.scalars(
        select(Assignment).where(Assignment.ticket_id == ticket.id, _due(now, cutoff))
        .order_by(Assignment.id).with_for_update()
    ).all()
    for a in rows:
        for step in _steps_due(a, now, cutoff):
            _fire(session, ticket, a, step, now, limits, directory, batch)


def _steps_due(a: Assignment, now: datetime, cutoff: datetime) -> list[Step]:
    """Set the marks of the steps due now and say which to act on. A warning not yet fired
    when its deadline has already passed (the sweep was down) is marked but not sent: an
    overdue urge says more."""
    steps: list[Step] = []
    if a.status == AssignmentStatus.DISPATCHED and a.sign_overdue_at is None:
        if a.sign_deadline < now:
            a.sign_warned_at = a.sign_warned_at or now
            a.sign_overdue_at = now
            steps.append(Step.SIGN_OVERDUE)
        elif a.sign_warned_at is None and a.sign_warn_at <= now:
            a.sign_warned_at = now
            steps.append(Step.SIGN_WARNING)
    if a.status in HANDLING and a.escalated_at is None:
        if a.complete_deadline < now and a.complete_overdue_at is None:
            a.complete_warned_at = a.complete_warned_at or now
            a.complete_overdue_at = now
            steps.append(Step.COMPLETE_OVERDUE)
        elif a.complete_warned_at is None and a.complete_warn_at <= now:
            a.complete_warned_at = now
            steps.append(Step.COMPLETE_WARNING)
        if a.complete_deadline < cutoff:
            # Marked even when the ticket is already supervised, so the check runs once.
            a.escalated_at = now
            steps.append(Step.SUPERVISION)
    return steps


def _fire(session: Session, ticket: Ticket, a: Assignment, step: Step, now: datetime,
          limits: TimeLimits, directory: Directory, batch: _Batch) -> None:
    if step == Step.SUPERVISION:
        if ticket.supervised:
            return
        reason = f"超过办理时限{limits.supervision_overdue_days}个工作日，自动督办"
        result = perform(session, ticket, "supervise", SYSTEM, {"reason": reason},
                         now=now, directory=directory)
        assert ticket.supervise_deadline is not None
        deadline = ticket.supervise_deadline
    else:
        reason = _urge_reason(step, limits.warning_ratio)
        if a.role != "lead":  # the urge event names the lead; say whose clock this was
            dept = directory.department(a.department_code)
            reason += f"（协办：{dept.name if dept else a.department_code}）"
        result = perform(session, ticket, "urge", SYSTEM, {"reason": reason},
                         now=now, directory=directory)
        deadline = a.sign_deadline if step in (Step.SIGN_WARNING, Step.SIGN_OVERDUE) \
            else a.complete_deadline
    for e in result.events:  # the console tells a warning from an overdue by this
        e.payload = {**(e.payload or {}), "clock_step": str(step)}
    batch.events += result.events
    batch.fired.append(Fired(a.id, ticket.id, ticket.number, step, now))
    text = notice_text(step, ticket.number, deadline)
    # The deadline is in the key: a clock moved by an extension notifies again.
    stamp = int(deadline.timestamp())
    for user in _recipients(session, a):
        key = f"{SMS_TOPIC}:{a.id}:{step}:{stamp}:{user.id}"
        payload = {"to": user.phone, "text": text, "ticket_no": ticket.number, "kind": str(step)}
        if outbox.enqueue(session, SMS_TOPIC, payload, key=key, ticket_id=ticket.id, now=now):
            batch.notices += 1


def _recipients(session: Session, a: Assignment) -> list[User]:
    """The assignment's grid worker if reachable, else its department's handlers with a phone."""
    if a.grid_worker_id is not None:
        worker = session.get(User, a.grid_worker_id)
        if worker is not None and worker.active and worker.phone:
            return [worker]
    return list(session.scalars(
        select(User).where(User.role == Role.HANDLER, User.department_code == a.department_code,
                           User.active.is_(True), User.phone.is_not(None), User.phone != "")
        .order_by(User.id)))


# ---------------------------------------------------------------- the periodic list


@dataclass(frozen=True)
class OverdueEntry:
    """An open assignment past a deadline or on a supervised ticket (通报 list)."""

    ticket_id: int
    ticket_number: str
    assignment_id: int
    department_code: str
    role: str
    clock: str | None  # "complete", "sign", or None when only listed as supervised
    deadline: datetime | None
    supervised: bool
    supervise_deadline: datetime | None
    escalated_at: datetime | None


def overdue_list(session: Session, now: datetime) -> list[OverdueEntry]:
    """Open assignments overdue at `now` or on a supervised ticket, by department and ticket."""
    a = Assignment
    sign_late = and_(a.status == AssignmentStatus.DISPATCHED, a.sign_deadline < now)
    complete_late = and_(a.status.in_(HANDLING), a.complete_deadline < now)
    rows = session.execute(
        select(a, Ticket).join(Ticket, Ticket.id == a.ticket_id)
        .where(a.closed_at.is_(None), a.status.in_(HANDLING), Ticket.status.in_(OPEN_STATES),
               or_(sign_late, complete_late, Ticket.supervised.is_(True)))
        .order_by(a.department_code, Ticket.id, a.id)
    ).all()
    entries = []
    for asg, ticket in rows:
        if asg.complete_deadline < now:
            clock, deadline = "complete", asg.complete_deadline
        elif asg.status == AssignmentStatus.DISPATCHED and asg.sign_deadline < now:
            clock, deadline = "sign", asg.sign_deadline
        else:
            clock, deadline = None, None
        entries.append(OverdueEntry(ticket.id, ticket.number, asg.id, asg.department_code,
                                    asg.role, clock, deadline, bool(ticket.supervised),
                                    ticket.supervise_deadline, asg.escalated_at))
    return entries
