"""The periodic overdue list (通报): open assignments past a deadline or on a supervised ticket."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from dispatch.core.models import Assignment, Ticket
from dispatch.core.vocab import OPEN_STATES, AssignmentStatus
from dispatch.tickets.clock_steps import HANDLING


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
