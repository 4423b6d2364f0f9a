"""The clock sweep's delegated steps (下派, DOMAIN.md "Grid governance": "Each delegated step has
its own sign-for and completion clocks inside the assignment's"): like an assignment's, each
clock warns once when its warning time has come (预警: `warning_ratio` of it run, the times and
marks in `dispatch.tickets.delegation_warnings`), and a step still unsigned after its sign-for
deadline, or not completed after its completion deadline, is urged once per step and deadline
by the system: an `urge` event on the ticket naming the village, community or grid
worker and the clock (payload `delegation`, `clock_step`), an SMS through the outbox to the
holder (the grid worker's phone, else the handlers with a phone of the step's department, for a
grid worker's step the worker's own), and a mark on the step (`sign_overdue_at`,
`complete_overdue_at`) in the same transaction, so it never fires twice.

A step of a suspended assignment (挂起: its clock stands) does not fire; nor one completed and
awaiting review, closed (accepted, returned, cancelled), or of a closed assignment or ticket.

Like the other sweeps (`system_actions.act_on_due`) it claims its tickets with `FOR UPDATE SKIP
LOCKED` in ticket-id order and commits per batch; a ticket that fails is rolled back with its
batch and set aside until the next sweep. `sweep_clocks` runs it after the resumes."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, and_, column, or_, select, table
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from dispatch.core.actors import SYSTEM
from dispatch.core.models import Assignment, Delegation, Event, Ticket, User
from dispatch.core.ports import PublishedEvent
from dispatch.core.vocab import OPEN_STATES, DelegationStatus, Status
from dispatch.outbound import outbox
from dispatch.tickets.clock_steps import SMS_MAX, Fired, Step, handler_phones, notice_text
from dispatch.tickets.delegation_warnings import DelegationClock, clocks_of
from dispatch.tickets.lifecycle import check, consequences, lead_assignment

_log = logging.getLogger(__name__)

SMS_TOPIC = "sms.notice"
D = DelegationStatus
UNSIGNED = (D.DISPATCHED,)
UNCOMPLETED = (D.DISPATCHED, D.SIGNED)  # completed (awaiting review) is done for this clock
SIGN_STEPS = (Step.SIGN_WARNING, Step.SIGN_OVERDUE)

_DEPARTMENTS = table("departments", column("code"), column("name"))


@dataclass
class DelegationSweep:
    """What the batches did: the steps urged, their committed events, SMS owed, set aside."""

    fired: list[Fired] = field(default_factory=list)
    events: list[PublishedEvent] = field(default_factory=list)
    notices: int = 0
    failed: set[int] = field(default_factory=set)


def _sign_due(now: datetime) -> ColumnElement[bool]:
    d = Delegation
    return and_(d.status.in_(UNSIGNED), d.sign_overdue_at.is_(None), d.sign_deadline < now)


def _complete_due(now: datetime) -> ColumnElement[bool]:
    d = Delegation
    return and_(d.status.in_(UNCOMPLETED), d.complete_overdue_at.is_(None),
                d.complete_deadline < now)


def _warning_due(now: datetime) -> ColumnElement[bool]:
    """A clock whose warning time has come and whose warning has not fired (the partial
    indexes of delegation_clocks)."""
    c, d = DelegationClock, Delegation
    sign = select(c.delegation_id).where(c.sign_warned_at.is_(None), c.sign_warn_at <= now)
    complete = select(c.delegation_id).where(c.complete_warned_at.is_(None),
                                             c.complete_warn_at <= now)
    return or_(and_(d.status.in_(UNSIGNED), d.sign_overdue_at.is_(None), d.id.in_(sign)),
               and_(d.status.in_(UNCOMPLETED), d.complete_overdue_at.is_(None),
                    d.id.in_(complete)))


def delegation_due(now: datetime) -> ColumnElement[bool]:
    """An open step of a running (not suspended, not closed) assignment with a clock passed
    and not yet urged, or a clock's warning time come and not yet warned."""
    held = select(Assignment.id).where(Assignment.closed_at.is_(None),
                                       Assignment.suspended_until.is_(None))
    return and_(Delegation.closed_at.is_(None), Delegation.assignment_id.in_(held),
                or_(_sign_due(now), _complete_due(now), _warning_due(now)))


def steps_due(d: Delegation, now: datetime, clock: DelegationClock | None = None) -> list[Step]:
    """The steps of this delegated step due now, each once (its mark is unset): a clock past
    its deadline is overdue; else past its warning time (with a warning clock), a warning. A
    warning not yet fired when the deadline has already passed is not sent (the sweep was
    down): the overdue urge says more."""
    steps = []
    if d.status in UNSIGNED and d.sign_overdue_at is None:
        if d.sign_deadline < now:
            steps.append(Step.SIGN_OVERDUE)
        elif clock is not None and clock.sign_warned_at is None and clock.sign_warn_at <= now:
            steps.append(Step.SIGN_WARNING)
    if d.status in UNCOMPLETED and d.complete_overdue_at is None:
        if d.complete_deadline < now:
            steps.append(Step.COMPLETE_OVERDUE)
        elif clock is not None and clock.complete_warned_at is None \
                and clock.complete_warn_at <= now:
            steps.append(Step.COMPLETE_WARNING)
    return steps


def delegation_notice_text(step: Step, ticket_number: str, deadline: datetime) -> str:
    """The SMS to the holder of a delegated step's clock step (one segment, ≤ 70 characters):
    the assignment's text, naming the ticket 下派工单."""
    text = notice_text(step, ticket_number, deadline, delegated=True)
    assert len(text) <= SMS_MAX, text
    return text


def delegation_urge_reason(step: Step, holder: str) -> str:
    """The urge event's reason: whose step (the village, community or grid worker) and which
    clock."""
    clock = "签收" if step in SIGN_STEPS else "办理"
    if step in (Step.SIGN_WARNING, Step.COMPLETE_WARNING):
        return f"下派给{holder}的任务即将超过{clock}时限，自动提醒"
    return f"下派给{holder}的任务已超过{clock}时限，自动催办"


class _Holders:
    """Who holds each step (their name, for the reason) and who gets its SMS: the grid worker
    if reachable, else the handlers with a phone of the step's department (for a grid
    worker's step, the worker's own department)."""

    def __init__(self, session: Session, steps: list[Delegation]) -> None:
        self.session = session
        worker_ids = {d.grid_worker_id for d in steps if d.grid_worker_id is not None}
        self.workers: dict[int, User] = {}
        if worker_ids:
            self.workers = {u.id: u for u in session.scalars(
                select(User).where(User.id.in_(worker_ids)))}
        codes = {d.department_code for d in steps if d.department_code is not None}
        codes |= {u.department_code for u in self.workers.values() if u.department_code}
        self.names: dict[str, str] = {}
        self.handlers = handler_phones(session, codes)
        if codes:
            self.names = {code: name for code, name in session.execute(
                select(_DEPARTMENTS.c.code, _DEPARTMENTS.c["name"])
                .where(_DEPARTMENTS.c.code.in_(codes)))}

    def name(self, d: Delegation) -> str:
        if d.grid_worker_id is not None:
            worker = self.workers.get(d.grid_worker_id)
            return f"网格员{worker.display_name if worker else d.grid_worker_id}"
        code = d.department_code or ""
        return self.names.get(code) or code

    def recipients(self, d: Delegation) -> list[tuple[int, str]]:
        if d.grid_worker_id is not None:
            worker = self.workers.get(d.grid_worker_id)
            if worker is None:
                return []
            if worker.active and worker.phone:
                return [(worker.id, worker.phone)]
            return self.handlers.get(worker.department_code or "", [])
        return self.handlers.get(d.department_code or "", [])


def sweep_delegation_clocks(session: Session, now: datetime, *,
                            limit: int = 200) -> DelegationSweep:
    """Urge once every delegated step whose sign-for or completion deadline passed at `now`
    (event, outbox SMS, mark); a batch of tickets per transaction, until none is left."""
    swept = DelegationSweep()
    while True:
        session.expire_all()
        due = select(Delegation.ticket_id).where(delegation_due(now))
        query = select(Ticket).where(Ticket.id.in_(due), Ticket.status.in_(OPEN_STATES))
        if swept.failed:
            query = query.where(Ticket.id.not_in(swept.failed))
        tickets = list(session.scalars(query.order_by(Ticket.id).limit(limit)
                                       .with_for_update(skip_locked=True, of=Ticket)))
        if not tickets:
            session.rollback()
            return swept
        current = tickets[0].id
        fired: list[Fired] = []
        events: list[Event] = []
        try:
            # The tickets are locked (every writer locks a ticket first): their steps re-read.
            steps = list(session.scalars(
                select(Delegation).where(Delegation.ticket_id.in_([t.id for t in tickets]),
                                         delegation_due(now))
                .order_by(Delegation.ticket_id, Delegation.id)))
            holders = _Holders(session, steps)
            clocks = clocks_of(session, [d.id for d in steps])
            by_ticket: dict[int, list[Delegation]] = {}
            for d in steps:
                by_ticket.setdefault(d.ticket_id, []).append(d)
            sms: list[dict[str, object]] = []
            for ticket in tickets:
                current = ticket.id
                for d in by_ticket.get(ticket.id, []):
                    clock = clocks.get(d.id)
                    for step in steps_due(d, now, clock):
                        events.append(_fire(session, ticket, d, clock, step, holders, now))
                        fired.append(Fired(d.assignment_id, ticket.id, ticket.number, step,
                                           now, delegation_id=d.id))
                        sms += _notices(ticket, d, step, holders)
            session.flush()
            notices = outbox.enqueue_many(session, SMS_TOPIC, sms, now=now)
            batch = [PublishedEvent(e.id, e.ticket_id, e.ticket.number, e.action,
                                    e.from_status, e.to_status) for e in events]
            session.commit()  # the table of consequences runs on the batch's events here
        except Exception:
            session.rollback()
            _log.exception("delegation clock sweep: ticket %s failed; skipped until the next "
                           "sweep", current)
            swept.failed.add(current)
            continue
        swept.fired += fired
        swept.events += batch
        swept.notices += notices


def _fire(session: Session, ticket: Ticket, d: Delegation, clock: DelegationClock | None,
          step: Step, holders: _Holders, now: datetime) -> Event:
    """The urge of one step, as `perform` writes an urge (same check, a new version of the
    ticket, the consequences owed), and its mark."""
    check("urge", Status(ticket.status), SYSTEM.role)
    reason = delegation_urge_reason(step, holders.name(d))
    lead = lead_assignment(ticket)
    event = Event(ticket=ticket, at=now, actor_id=SYSTEM.id, actor_role=SYSTEM.role,
                  action="urge", from_status=ticket.status, to_status=ticket.status,
                  reason=reason,
                  payload={"department": lead.department_code if lead else None,
                           "delegation": d.id, "clock_step": str(step)})
    session.add(event)
    ticket.updated_at = now  # each action is a new version of the ticket
    flag_modified(ticket, "updated_at")
    # An overdue clock's warning is done too (marked, not sent, when it never fired).
    if step == Step.SIGN_OVERDUE:
        d.sign_overdue_at = now
    elif step == Step.COMPLETE_OVERDUE:
        d.complete_overdue_at = now
    if clock is not None:
        if step in SIGN_STEPS:
            clock.sign_warned_at = clock.sign_warned_at or now
        else:
            clock.complete_warned_at = clock.complete_warned_at or now
    for consequence in consequences():  # what the action owes others (nothing, today)
        consequence(session, ticket, "urge", reason, now)
    return event


def _notices(ticket: Ticket, d: Delegation, step: Step,
             holders: _Holders) -> list[dict[str, object]]:
    deadline = d.sign_deadline if step in SIGN_STEPS else d.complete_deadline
    text = delegation_notice_text(step, ticket.number, deadline)
    stamp = int(deadline.timestamp())
    return [{"key": f"{SMS_TOPIC}:delegation:{d.id}:{step}:{stamp}:{user_id}",
             "ticket_id": ticket.id,
             "payload": {"to": phone, "text": text, "ticket_no": ticket.number,
                         "kind": str(step), "delegation": d.id}}
            for user_id, phone in holders.recipients(d)]
