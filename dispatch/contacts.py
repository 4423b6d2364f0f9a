"""Inbound contacts: every call, message or transfer, with or without a ticket."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, Field, StringConstraints
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.access import can_see
from dispatch.commands import Code, NotePayload, Strict, Text, parse
from dispatch.errors import Conflict, InvalidInput, NotFound
from dispatch.lifecycle import Actor, perform
from dispatch.models import Contact, Ticket
from dispatch.phones import normalize_phone
from dispatch.ports import Directory
from dispatch.vocab import CLOSED_STATES, Channel, ContactKind


class ContactCreate(Strict):
    """A contact that created no ticket: a follow-up on one, or a silent, prank or hang-up."""

    channel: Channel
    kind: ContactKind
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = None
    ticket: Code | None = Field(None, description="ticket number, for a follow-up")
    note: Text | None = None
    received_at: AwareDatetime | None = Field(None, description="with its time zone")


def record_contact(
    session: Session,
    *,
    channel: str,
    kind: str,
    received_at: datetime,
    actor_id: int | None,
    ticket: Ticket | None = None,
    phone: str | None = None,
    openid: str | None = None,
    external_id: str | None = None,
    note: str | None = None,
) -> Contact:
    """Append one contact row (the pipeline and the channel adapters call this)."""
    contact = Contact(
        channel=channel, kind=kind, received_at=received_at, phone=phone, openid=openid,
        external_id=external_id, ticket_id=ticket.id if ticket is not None else None,
        note=note, recorded_by_id=actor_id,
    )
    session.add(contact)
    return contact


def log_contact(session: Session, data: object, *, actor: Actor, now: datetime,
                directory: Directory) -> tuple[Contact, Ticket | None]:
    """Record a contact an operator logs by hand; a follow-up names an open ticket and is
    noted in its history."""
    body = data if isinstance(data, ContactCreate) else parse(ContactCreate, data)
    if body.kind == ContactKind.NEW_DEMAND:
        raise InvalidInput("kind: a new demand is logged by creating a ticket", field="kind")
    phone = normalize_phone(body.phone, "phone") if body.phone else None
    ticket = None
    if body.kind == ContactKind.FOLLOW_UP:
        if body.ticket is None:
            raise InvalidInput("ticket: a follow-up names its ticket", field="ticket")
        ticket = session.scalar(select(Ticket).where(Ticket.number == body.ticket))
        if ticket is None or not can_see(session, actor, ticket):
            raise NotFound(f"ticket {body.ticket} not found", field="ticket")
        if ticket.status in CLOSED_STATES:
            raise Conflict(f"ticket {ticket.number} is {ticket.status}; log a new demand")
    elif body.ticket is not None:
        raise InvalidInput(f"ticket: only a follow-up names a ticket, not a {body.kind}",
                           field="ticket")
    received = body.received_at or now
    if received > now:
        raise InvalidInput("received_at: is in the future", field="received_at")
    contact = record_contact(session, channel=body.channel, kind=body.kind,
                             received_at=received, actor_id=actor.id, ticket=ticket,
                             phone=phone, note=body.note)
    if ticket is not None:
        text = "诉求人再次来电" + (f"：{body.note}" if body.note else "")
        perform(session, ticket, "note", actor, NotePayload(text=text), now=now,
                directory=directory)
    return contact, ticket


class ContactFilter(Strict):
    """The filters of `GET /api/v1/contacts`."""

    kind: list[ContactKind] = Field(default_factory=list)
    ticket: Code | None = None
    page: int = Field(1, ge=1, le=100_000)
    per_page: int = Field(50, ge=1, le=200)


def list_contacts(session: Session, f: ContactFilter) -> tuple[list[Contact], int]:
    """A page of contacts, newest first, and how many match."""
    stmt = select(Contact)
    if f.kind:
        stmt = stmt.where(Contact.kind.in_(f.kind))
    if f.ticket:
        stmt = stmt.join(Ticket, Ticket.id == Contact.ticket_id).where(Ticket.number == f.ticket)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Contact.received_at.desc(), Contact.id.desc())
                           .limit(f.per_page).offset((f.page - 1) * f.per_page)).all()
    return list(rows), total
