"""Who sees which tickets: department and assignment scoping of DOMAIN.md."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, Select, and_, column, exists, false, or_, select, table, true
from sqlalchemy.orm import Session

from dispatch.core.models import Assignment, Contact, Delegation, Ticket
from dispatch.core.vocab import ALL_SEEING_ROLES, Channel, Role

if TYPE_CHECKING:
    from dispatch.core.actors import Actor


# The departments' hierarchy as the scoping rule reads it (the table belongs to grid/, which
# the domain does not import): a street office above its communities and villages.
DEPARTMENTS = table("departments", column("code"), column("parent_code"), column("active"),
                    column("kind"), column("street_code"))


def subtree_codes(department: str) -> Select[tuple[str]]:
    """A SELECT of this department's code and those of every department under it (its
    communities and villages, and theirs)."""
    tree = select(DEPARTMENTS.c.code).where(DEPARTMENTS.c.code == department) \
        .cte("subtree", recursive=True)
    below = select(DEPARTMENTS.c.code).where(DEPARTMENTS.c.parent_code == tree.c.code)
    tree = tree.union(below)
    return select(tree.c.code)


def department_subtree(session: Session, department: str) -> frozenset[str]:
    """This department's code and those of every department under it."""
    return frozenset(session.scalars(subtree_codes(department)))


def visible_tickets(actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause selecting the tickets this actor may see: a department user those of
    its department and of the departments under it (DOMAIN.md "Grid governance": each level
    sees its own and its children's tickets), assigned or delegated (下派) to them; a grid
    worker those assigned or delegated to them, those of their cells and their own patrol
    reports."""
    if actor.role in ALL_SEEING_ROLES:
        return true()
    if actor.role == Role.HANDLER:
        if actor.department_code is None:
            return false()
        mine = subtree_codes(actor.department_code).scalar_subquery()
        return or_(exists(select(Assignment.id).where(
            Assignment.ticket_id == Ticket.id,
            Assignment.department_code.in_(mine),
        )), exists(select(Delegation.id).where(
            Delegation.ticket_id == Ticket.id,
            Delegation.department_code.in_(mine),
        )))
    if actor.role == Role.GRID_WORKER:
        assigned = or_(exists(select(Assignment.id).where(
            Assignment.ticket_id == Ticket.id, Assignment.grid_worker_id == actor.id
        )), exists(select(Delegation.id).where(
            Delegation.ticket_id == Ticket.id, Delegation.grid_worker_id == actor.id
        )), and_(Ticket.channel == Channel.PATROL, Ticket.created_by_id == actor.id))
        return or_(assigned, Ticket.cell_code.in_(actor.cells)) if actor.cells else assigned
    if actor.role == Role.POLICE_DESK:
        return or_(Ticket.channel == Channel.POLICE110, Ticket.police_state.is_not(None))
    return false()


def can_see(session: Session, actor: Actor, ticket: Ticket) -> bool:
    """Whether this actor may see this ticket (others get 'not found')."""
    if actor.role in ALL_SEEING_ROLES:
        return True
    if actor.role == Role.HANDLER:
        if actor.department_code is None:
            return False
        held = {a.department_code for a in ticket.assignments} \
            | {d.department_code for d in ticket.delegations if d.department_code}
        if actor.department_code in held:
            return True
        return bool(held & department_subtree(session, actor.department_code))
    if actor.role == Role.GRID_WORKER:
        return (ticket.cell_code in actor.cells
                or any(a.grid_worker_id == actor.id for a in ticket.assignments)
                or any(d.grid_worker_id == actor.id for d in ticket.delegations)
                or (ticket.channel == Channel.PATROL and ticket.created_by_id == actor.id))
    if actor.role == Role.POLICE_DESK:
        return police_desk_ticket(ticket)
    return False


def police_desk_ticket(ticket: Ticket) -> bool:
    """A ticket of the 110 desk: one that came from 110, or was transferred to it."""
    return ticket.channel == Channel.POLICE110 or ticket.police_state is not None


# ---------------------------------------------------------------- the citizen's exposure

# Department users and grid workers see the citizen masked unless the ticket needs a direct
# contact (DOMAIN.md, Privacy); a confidential ticket hides the citizen from all but operators.
MASKED_ROLES = frozenset({Role.HANDLER, Role.GRID_WORKER})
FULL, MASKED, HIDDEN = "full", "masked", "hidden"


def exposure(actor: Actor, ticket: Ticket, *, masked: bool = False) -> str:
    """How this actor may see the citizen of a ticket it may see: `full` (unmasked, a read
    to log), `masked` (138****1234) or `hidden` (confidential); `masked` asks for no more
    than masked. Phone and ID-card numbers typed into the text follow the citizen."""
    if ticket.confidential and actor.role != Role.OPERATOR:
        return HIDDEN
    if masked or (actor.role in MASKED_ROLES and not ticket.direct_contact):
        return MASKED
    return FULL


def contact_exposure(actor: Actor, ticket: Ticket | None) -> str:
    """How this actor may see the caller of a contact: by its ticket's rule (`exposure`);
    a contact that belongs to no ticket (a call that ended without one, a prank, a silent
    line) shows its caller to operators only and masked to the others who may list it. A
    `full` read is one to log (by ticket, or by contact when there is none)."""
    if ticket is not None:
        return exposure(actor, ticket)
    return FULL if actor.role == Role.OPERATOR else MASKED


def visible_contacts(actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause selecting the contacts this actor may list: those of the tickets it may
    see, and those of no ticket for the all-seeing roles."""
    if actor.role in ALL_SEEING_ROLES:
        return true()
    return Contact.ticket_id.in_(select(Ticket.id).where(visible_tickets(actor)))


def unmasked_citizen(actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause selecting the tickets whose citizen this actor sees unmasked (the
    `full` exposure): the only tickets a search by phone or by a typed number may match."""
    if actor.role == Role.OPERATOR:
        return true()
    if actor.role in MASKED_ROLES:
        return and_(Ticket.direct_contact.is_(True), Ticket.confidential.is_(False))
    return Ticket.confidential.is_(False)


def visible_numbers(session: Session, actor: Actor, numbers: Iterable[str], *,
                    unmasked: bool = False) -> set[str]:
    """Which of these ticket numbers this actor may see (`unmasked`: and sees the citizen of
    unmasked), by the same rule as every ticket read."""
    wanted = set(numbers)
    if not wanted:
        return set()
    conds = [Ticket.number.in_(wanted), visible_tickets(actor)]
    if unmasked:
        conds.append(unmasked_citizen(actor))
    return set(session.scalars(select(Ticket.number).where(*conds)))
