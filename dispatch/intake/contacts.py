"""Inbound contacts: every call, message or transfer, with or without a ticket."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, Field, StringConstraints
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from dispatch.core.commands import Code, NotePayload, Strict, Text, parse
from dispatch.core.errors import Conflict, InvalidInput, NotFound
from dispatch.core.models import Contact, Ticket
from dispatch.core.ports import Directory
from dispatch.core.vocab import CLOSED_STATES, Channel, ContactKind
from dispatch.intake.phones import normalize_phone
from dispatch.tickets.access import can_see, visible_contacts
from dispatch.tickets.lifecycle import Actor, perform
from dispatch.tickets.readmodel import contact_views


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


@dataclass(frozen=True)
class _Checked:
    body: ContactCreate
    phone: str | None
    ticket: Ticket | None
    received_at: datetime


def _check(session: Session, data: object, actor: Actor, now: datetime,
           held: Ticket | None = None) -> _Checked:
    """A hand-logged contact, checked: what `log_contact` would write, or the refusal."""
    body = data if isinstance(data, ContactCreate) else parse(ContactCreate, data)
    if body.kind == ContactKind.NEW_DEMAND:
        raise InvalidInput("kind: 新诉求请通过创建工单登记", field="kind")
    phone = normalize_phone(body.phone, "phone") if body.phone else None
    ticket = None
    if body.kind == ContactKind.FOLLOW_UP:
        if body.ticket is None:
            raise InvalidInput("ticket: 追加诉求须指明所属工单", field="ticket")
        ticket = (held if held is not None and held.number == body.ticket
                  else session.scalar(select(Ticket).where(Ticket.number == body.ticket)))
        if ticket is None or not can_see(session, actor, ticket):
            raise NotFound(f"ticket: 没有编号为“{body.ticket}”的工单", field="ticket")
        if ticket.status in CLOSED_STATES:
            raise Conflict(f"工单 {ticket.number} 已结束（{{status}}），请登记为新诉求",
                           terms={"status": ("status", ticket.status)})
    elif body.ticket is not None:
        raise InvalidInput(f"ticket: 只有追加诉求（follow_up）才指明工单，“{body.kind}”不需要",
                           field="ticket")
    received = body.received_at or now
    if received > now:
        raise InvalidInput("received_at: 不能晚于当前时间", field="received_at")
    return _Checked(body, phone, ticket, received)


def log_contact(session: Session, data: object, *, actor: Actor, now: datetime,
                directory: Directory, ticket: Ticket | None = None,
                ) -> tuple[Contact, Ticket | None]:
    """Record a contact an operator logs by hand; a follow-up names an open ticket and is
    noted in its history. A caller that holds the ticket a follow-up names already passes it
    as `ticket` (it is looked up by its number otherwise)."""
    c = _check(session, data, actor, now, ticket)
    contact = record_contact(session, channel=c.body.channel, kind=c.body.kind,
                             received_at=c.received_at, actor_id=actor.id, ticket=c.ticket,
                             phone=c.phone, note=c.body.note)
    if c.ticket is not None:
        text = "诉求人再次来电" + (f"：{c.body.note}" if c.body.note else "")
        perform(session, c.ticket, "note", actor, NotePayload(text=text), now=now,
                directory=directory)
    return contact, c.ticket


def log_contacts(session: Session, entries: Sequence[tuple[object, Actor, datetime]]) -> int:
    """Record many contacts that name no ticket (silent, prank, hang-up, wrong number,
    enquiry), each `(data, actor, now)` as `log_contact` would, in one multi-row INSERT; how
    many. All are checked before anything is written: one refused writes none. A follow-up is
    noted on its ticket when it comes: log it with `log_contact`."""
    rows = []
    for data, actor, now in entries:
        body = data if isinstance(data, ContactCreate) else parse(ContactCreate, data)
        if body.kind == ContactKind.FOLLOW_UP:
            raise InvalidInput("kind: 追加诉求须单独登记，并记入所属工单的备注",
                               field="kind")
        c = _check(session, body, actor, now)
        rows.append({"channel": c.body.channel, "kind": c.body.kind,
                     "received_at": c.received_at, "phone": c.phone, "openid": None,
                     "external_id": None, "ticket_id": None, "note": c.body.note,
                     "recorded_by_id": actor.id})
    if rows:
        session.execute(insert(Contact.__table__), rows)
    return len(rows)


class ContactFilter(Strict):
    """The filters of `GET /api/v1/contacts`."""

    kind: list[ContactKind] = Field(default_factory=list)
    ticket: Code | None = None
    page: int = Field(1, ge=1, le=100_000)
    per_page: int = Field(50, ge=1, le=200)


def list_contacts(session: Session, actor: Actor, f: ContactFilter,
                  ) -> tuple[list[Contact], int]:
    """A page of the contacts this actor may see (dispatch/tickets/access.py,
    `visible_contacts`), newest first, and how many match; a ticket it may not see is not
    found, as a direct read says."""
    stmt = select(Contact)
    if f.kind:
        stmt = stmt.where(Contact.kind.in_(f.kind))
    if f.ticket:
        ticket = session.scalar(select(Ticket).where(Ticket.number == f.ticket))
        if ticket is None or not can_see(session, actor, ticket):
            raise NotFound(f"ticket: 没有编号为“{f.ticket}”的工单", field="ticket")
        stmt = stmt.where(Contact.ticket_id == ticket.id)
    else:
        stmt = stmt.where(visible_contacts(actor))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Contact.received_at.desc(), Contact.id.desc())
                           .limit(f.per_page).offset((f.page - 1) * f.per_page)).all()
    return list(rows), total


def find_contacts(session: Session, actor: Actor, f: ContactFilter, now: datetime,
                  ) -> tuple[list[dict[str, Any]], int]:
    """A page of contacts as this actor may read them (scoped, masked like their ticket's
    citizen, unmasked reads logged: dispatch/tickets/readmodel.py), and how many match."""
    rows, total = list_contacts(session, actor, f)
    return contact_views(session, rows, actor, now), total
