"""A citizen's later messages about their demand (WeChat now, any messaging channel later):
which demand they belong to, what they add to it, and what the citizen may ask about."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.errors import DomainError
from dispatch.core.models import Contact, Event, Ticket
from dispatch.core.ports import Directory, IntakePorts
from dispatch.core.vocab import CLOSED_STATES, ContactKind
from dispatch.tickets.lifecycle import TABLE, Actor, perform


def last_demand(session: Session, channel: str, openid: str, now: datetime,
                window: timedelta) -> Ticket | None:
    """The open ticket of this citizen's last demand on the channel within the window."""
    last = session.scalar(
        select(Contact).where(Contact.channel == channel, Contact.openid == openid,
                              Contact.kind == ContactKind.NEW_DEMAND,
                              Contact.ticket_id.is_not(None),
                              Contact.received_at >= now - window)
        .order_by(Contact.received_at.desc(), Contact.id.desc()).limit(1))
    ticket = session.get(Ticket, last.ticket_id) if last is not None else None
    if ticket is None or ticket.status in CLOSED_STATES or ticket.citizen_openid != openid:
        return None
    return ticket


def open_tickets(session: Session, openid: str) -> list[tuple[str, str]]:
    """(number, status) of this citizen's open tickets, newest first; never anyone else's."""
    rows = session.execute(
        select(Ticket.number, Ticket.status)
        .where(Ticket.citizen_openid == openid, Ticket.status.not_in(list(CLOSED_STATES)))
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
    ).all()
    return [(r.number, r.status) for r in rows]


def add_to_demand(session: Session, ticket: Ticket, actor: Actor, now: datetime, *,
                  note: str, relocate: dict[str, Any] | None, ports: IntakePorts,
                  directory: Directory) -> tuple[list[Event], Ticket | None]:
    """A new place relocates a ticket no department holds yet; anything else (or a place the
    ticket can no longer take) becomes a note. (None, []) when the ticket takes neither."""
    if relocate is not None and ticket.status in TABLE["relocate"].from_states:
        try:
            return perform(session, ticket, "relocate", actor, relocate, now=now,
                           directory=directory, ports=ports).events, ticket
        except DomainError:  # refused before writing anything: keep it as a note instead
            pass
    try:
        return perform(session, ticket, "note", actor, {"text": note}, now=now,
                       directory=directory).events, ticket
    except DomainError:
        return [], None
