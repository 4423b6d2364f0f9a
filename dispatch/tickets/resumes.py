"""The clock sweep's resume step (挂起, DOMAIN.md "Grid governance"): a suspended completion
clock runs again at its approved end date, by the lifecycle's `resume` taken by the system.

Like the other sweeps it claims its tickets with `FOR UPDATE SKIP LOCKED` in ticket-id order
and commits per batch; a ticket that fails is set aside until the next sweep. `sweep_clocks`
runs it first, so the deadlines it moves are the ones the clock steps then read."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.models import Event, Suspension, Ticket
from dispatch.core.ports import Directory, PublishedEvent
from dispatch.core.vocab import OPEN_STATES
from dispatch.tickets.lifecycle import SYSTEM, perform

_log = logging.getLogger(__name__)


def resume_due_suspensions(session: Session, now: datetime, directory: Directory, *,
                           limit: int = 200) -> list[PublishedEvent]:
    """Resume every suspension whose end date has come (one `resume` event per ticket);
    the committed events, for the console."""
    published: list[PublishedEvent] = []
    failed: set[int] = set()
    while True:
        session.expire_all()
        due = select(Suspension.ticket_id).where(Suspension.status == "active",
                                                 Suspension.until <= now)
        if failed:
            due = due.where(Suspension.ticket_id.not_in(failed))
        tickets = list(session.scalars(
            select(Ticket).where(Ticket.id.in_(due), Ticket.status.in_(OPEN_STATES))
            .order_by(Ticket.id).limit(limit).with_for_update(skip_locked=True, of=Ticket)))
        if not tickets:
            session.rollback()
            return published
        events: list[Event] = []
        current = tickets[0].id
        try:
            for ticket in tickets:
                current = ticket.id
                events += perform(session, ticket, "resume", SYSTEM, {},
                                  now=now, directory=directory).events
            session.flush()
            batch = [PublishedEvent(e.id, e.ticket_id, e.ticket.number, e.action,
                                    e.from_status, e.to_status) for e in events]
            session.commit()
        except Exception:
            session.rollback()
            _log.exception("resume sweep: ticket %s failed; skipped until the next sweep",
                           current)
            failed.add(current)
            continue
        published += batch
