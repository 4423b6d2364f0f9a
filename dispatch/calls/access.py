"""Who sees which calls: the scoping rule of tickets and contacts (dispatch/tickets/access.py),
no side door. The all-seeing roles see every call; the others only the calls of tickets they
may see; a caller is shown as the call's ticket's citizen (or, without a ticket, unmasked to
operators only)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from dispatch.calls.models import Call
from dispatch.core.actors import Actor
from dispatch.core.errors import NotFound
from dispatch.core.models import Ticket
from dispatch.core.vocab import ALL_SEEING_ROLES
from dispatch.intake.phones import mask_phone
from dispatch.tickets.access import FULL, HIDDEN, contact_exposure, visible_tickets


def visible_calls(actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause selecting the calls this actor may see."""
    if actor.role in ALL_SEEING_ROLES:
        return true()
    return Call.ticket_id.in_(select(Ticket.id).where(visible_tickets(actor)))


def get_call(session: Session, call_id: str, actor: Actor) -> Call:
    """The call with this id if this actor may see it; otherwise NotFound."""
    call = None
    if "\x00" not in call_id and len(call_id) <= 64:
        call = session.scalar(select(Call).where(Call.call_id == call_id,
                                                 visible_calls(actor)))
    if call is None:
        raise NotFound(f"call_id: 没有编号为“{call_id[:64]}”的通话", field="call_id")
    return call


def caller_shown(session: Session, actor: Actor, call: Call) -> tuple[str | None, bool]:
    """The caller as this actor may see it, and whether that was an unmasked read."""
    if call.caller is None:
        return None, False
    ticket = session.get(Ticket, call.ticket_id) if call.ticket_id else None
    level = contact_exposure(actor, ticket)
    if level == FULL:
        return call.caller, True
    if level == HIDDEN:
        return None, False
    return mask_phone(call.caller), False
