"""The clock sweep's resume step (挂起, DOMAIN.md "Grid governance"): a suspended completion
clock runs again at its approved end date, by the lifecycle's `resume` taken by the system.

Like the other sweeps it claims its tickets with `FOR UPDATE SKIP LOCKED` in ticket-id order
and commits per batch; a ticket that fails is set aside until the next sweep. `sweep_clocks`
runs it first, so the deadlines it moves are the ones the clock steps then read."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from dispatch.core.models import Suspension, Ticket
from dispatch.core.ports import Directory, PublishedEvent
from dispatch.core.vocab import OPEN_STATES
from dispatch.tickets.system_actions import act_on_due


def resume_due_suspensions(session: Session, now: datetime, directory: Directory, *,
                           limit: int = 200) -> list[PublishedEvent]:
    """Resume every suspension whose end date has come (one `resume` event per ticket);
    the committed events, for the console."""

    def due(set_aside: set[int]) -> Select[tuple[Ticket]]:
        ended = select(Suspension.ticket_id).where(Suspension.status == "active",
                                                   Suspension.until <= now)
        query = select(Ticket).where(Ticket.id.in_(ended), Ticket.status.in_(OPEN_STATES))
        return query.where(Ticket.id.not_in(set_aside)) if set_aside else query

    return act_on_due(session, due, "resume", now, directory, limit=limit).events
