"""Who sees which tickets: department and assignment scoping of DOMAIN.md."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, exists, false, or_, select, true
from sqlalchemy.orm import Session

from dispatch.core.models import Assignment, Ticket
from dispatch.core.vocab import ALL_SEEING_ROLES, Channel, Role

if TYPE_CHECKING:
    from dispatch.core.actors import Actor


def visible_tickets(actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause selecting the tickets this actor may see."""
    if actor.role in ALL_SEEING_ROLES:
        return true()
    if actor.role == Role.HANDLER:
        if actor.department_code is None:
            return false()
        return exists(select(Assignment.id).where(
            Assignment.ticket_id == Ticket.id,
            Assignment.department_code == actor.department_code,
        ))
    if actor.role == Role.GRID_WORKER:
        assigned = exists(select(Assignment.id).where(
            Assignment.ticket_id == Ticket.id, Assignment.grid_worker_id == actor.id
        ))
        return or_(assigned, Ticket.cell_code.in_(actor.cells)) if actor.cells else assigned
    if actor.role == Role.POLICE_DESK:
        return or_(Ticket.channel == Channel.POLICE110, Ticket.police_state.is_not(None))
    return false()


def can_see(session: Session, actor: Actor, ticket: Ticket) -> bool:
    """Whether this actor may see this ticket (others get 'not found')."""
    if actor.role in ALL_SEEING_ROLES:
        return True
    if actor.role == Role.HANDLER:
        return any(a.department_code == actor.department_code for a in ticket.assignments)
    if actor.role == Role.GRID_WORKER:
        return (ticket.cell_code in actor.cells
                or any(a.grid_worker_id == actor.id for a in ticket.assignments))
    if actor.role == Role.POLICE_DESK:
        return ticket.channel == Channel.POLICE110 or ticket.police_state is not None
    return False
