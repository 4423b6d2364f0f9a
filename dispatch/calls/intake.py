"""A demand logged during a call (CONTRACT.md: the intake API accepts `call_id`): its contact
carries the call id, and the call its contact and ticket, so the call's duration and recording
show with both."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints
from sqlalchemy.orm import Session

from dispatch.calls.events import call_for_intake, link_intake
from dispatch.core.actors import Actor
from dispatch.core.commands import TicketCreate, parse
from dispatch.core.errors import InvalidInput
from dispatch.core.models import Contact, Ticket
from dispatch.core.ports import Directory, IntakePorts
from dispatch.core.vocab import Channel
from dispatch.intake.contacts import ContactCreate, log_contact
from dispatch.intake.pipeline import IntakeResult, intake


class CallIntake(TicketCreate):
    """The intake form, with the call it came in on (when the phone rang through the centre)."""

    call_id: Annotated[str, StringConstraints(
        strip_whitespace=True, pattern=r"^[A-Za-z0-9_.:\-]{1,64}$")] | None = Field(
        None, description="the call this demand came in on (CTI call id)")


def intake_call(session: Session, data: object, actor: Actor, *, now: datetime,
                ports: IntakePorts | None = None) -> IntakeResult:
    """Log one demand (`dispatch.intake.pipeline.intake`), linked to its call when named."""
    cmd = data if isinstance(data, CallIntake) else parse(CallIntake, data)
    if cmd.call_id is None:
        return intake(session, cmd, actor, now=now, ports=ports)
    if cmd.channel != Channel.PHONE:
        raise InvalidInput("call_id: 只有电话渠道的诉求才有通话编号", field="call_id")
    call = call_for_intake(session, cmd.call_id)
    result = intake(session, cmd, actor, now=now, ports=ports,
                    contact_external_id=cmd.call_id)
    session.flush()
    link_intake(call, result.contact, result.ticket.id, now)
    return result


class CallContact(ContactCreate):
    """A contact without a new demand (a follow-up, a silent line, a prank…), with its call."""

    call_id: Annotated[str, StringConstraints(
        strip_whitespace=True, pattern=r"^[A-Za-z0-9_.:\-]{1,64}$")] | None = Field(
        None, description="the call it came in on (CTI call id)")


def log_call_contact(session: Session, data: object, *, actor: Actor, now: datetime,
                     directory: Directory) -> tuple[Contact, Ticket | None]:
    """Log a contact by hand (`dispatch.intake.contacts.log_contact`), carrying its call's id
    when named (and the call its contact and, for a follow-up, its ticket)."""
    body = data if isinstance(data, CallContact) else parse(CallContact, data)
    call = None
    if body.call_id is not None:
        if body.channel != Channel.PHONE:
            raise InvalidInput("call_id: 只有电话渠道的来电才有通话编号", field="call_id")
        call = call_for_intake(session, body.call_id)
    contact, ticket = log_contact(session, ContactCreate(**body.model_dump(exclude={"call_id"})),
                                  actor=actor, now=now, directory=directory)
    if call is not None:
        contact.external_id = call.call_id
        session.flush()
        link_intake(call, contact, ticket.id if ticket is not None else None, now)
    return contact, ticket
