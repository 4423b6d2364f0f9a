"""What a citizen's WeChat message means, and what we answer: an enquiry (查询), an answer to the
callback questionnaire, a new demand, or an image or place added to the last demand.

`answer` decides and writes (in the caller's transaction, not committed); `recorded_reply`
gives the reply of a message already recorded (WeChat retries a push it got no answer to, and
the MsgId is the contact's external id), the same every time. The hook only verifies, calls
these, commits and renders the passive reply.

In a burst the hook may hold a message instead (`integrations.wechat.inbox`): `deferrable` says
whether it may (never an emergency, an enquiry or an event), `answer_held` processes it later
and owes the citizen the reply, ticket number included, as a customer-service message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.errors import DomainError
from dispatch.core.models import Contact, Event, Ticket
from dispatch.core.ports import Classifier, Directory, IntakePorts
from dispatch.core.vocab import Channel, ContactKind, Role, Urgency
from dispatch.intake.alarms import alarm_of
from dispatch.intake.contacts import record_contact
from dispatch.intake.followups import add_to_demand, last_demand, open_tickets
from dispatch.intake.pipeline import intake
from dispatch.outbound import outbox
from dispatch.outbound.callbacks import answer_note, is_answer_note, record_citizen_answer, thanks
from dispatch.tickets.lifecycle import Actor
from integrations.wechat import inbox, mapping
from integrations.wechat.inbound import Message

# An image or a location within this time of the citizen's last demand adds to it.
FOLLOW_UP_WINDOW = timedelta(minutes=30)
# The channel acts as a machine: it may open tickets, relocate new ones and add notes.
WECHAT_ACTOR = Actor(None, Role.SYSTEM, username="wechat")
# The outbox topic of a customer-service message (客服消息) to a citizen on WeChat.
CUSTOMER_SERVICE = "wechat.customer_service"
HELD_TYPES = frozenset({"text", "voice", "image", "location"})


@dataclass(frozen=True)
class Outcome:
    """The reply (None: answer `success`), and what was written: `events` to publish after
    the commit; `changed` False when nothing was written (roll back)."""

    reply: str | None
    changed: bool = False
    events: Sequence[Event] = field(default_factory=tuple)


def recorded_reply(session: Session, message: Message) -> str | None:
    """The reply to a message whose MsgId was recorded already (None: not recorded yet)."""
    if message.msg_id is None:
        return None
    contact = session.scalar(select(Contact).where(Contact.channel == Channel.WECHAT,
                                                   Contact.external_id == message.msg_id))
    return None if contact is None else reply_for(session, contact, message)


def retry_reply(session: Session, message: Message) -> str | None:
    """The reply to a push whose nonce was used already, when it is WeChat retrying a recorded
    message of the same citizen (None: a replay, to refuse)."""
    if message.msg_id is None:
        return None
    contact = session.scalar(select(Contact).where(Contact.channel == Channel.WECHAT,
                                                   Contact.external_id == message.msg_id))
    if contact is None or contact.openid != message.from_user:
        return None
    return reply_for(session, contact, message)


def reply_for(session: Session, contact: Contact, message: Message) -> str:
    """The reply a recorded message gets, the same every time it is pushed."""
    ticket = session.get(Ticket, contact.ticket_id) if contact.ticket_id else None
    if contact.kind == ContactKind.ENQUIRY:
        return mapping.status_list(open_tickets(session, message.from_user))
    if ticket is None:
        return mapping.ASK_DESCRIPTION.format(what=mapping.kind_name(message))
    if is_answer_note(contact.note):
        return thanks(ticket.number)
    if contact.kind == ContactKind.NEW_DEMAND:
        alarm = alarm_of(session, ticket)
        if alarm is not None:  # an emergency: call 110 (119, 120) now
            return alarm.advice(ticket.number)
        return mapping.accepted(ticket.number)
    return mapping.added(ticket.number, mapping.kind_name(message))


def answer(session: Session, message: Message, now: datetime, *,
           ports: Callable[[], IntakePorts], directory: Callable[[], Directory]) -> Outcome:
    """Decide what a new message means, write it (uncommitted) and give the reply."""
    if message.msg_type == "event":
        return Outcome(mapping.WELCOME if message.event == "subscribe" else None)
    if message.msg_type not in ("text", "voice", "image", "location"):
        return Outcome(mapping.UNSUPPORTED)
    openid, msg_id = message.from_user, message.msg_id
    if mapping.is_query(message):
        contact = record_contact(session, channel=Channel.WECHAT, kind=ContactKind.ENQUIRY,
                                 received_at=now, actor_id=None, openid=openid,
                                 external_id=msg_id, note="查询办理进度")
        return Outcome(reply_for(session, contact, message), True)
    if message.msg_type == "text":
        # A reply to the callback questionnaire (1/满意/不满意…) while a ticket awaits one.
        answered = record_citizen_answer(session, openid=openid, text=message.content or "",
                                         channel="wechat", now=now, directory=directory())
        if answered.recorded:
            contact = record_contact(session, channel=Channel.WECHAT,
                                     kind=ContactKind.FOLLOW_UP, received_at=now, actor_id=None,
                                     ticket=answered.ticket, openid=openid, external_id=msg_id,
                                     note=answer_note(message.content or ""))
            return Outcome(reply_for(session, contact, message), True, answered.events)
    if message.msg_type in ("text", "voice"):
        if mapping.demand_text(message) is None:
            return Outcome(mapping.NO_RECOGNITION if message.msg_type == "voice"
                           else mapping.INVALID_TEXT)
        try:
            result = intake(session, mapping.intake_data(message), WECHAT_ACTOR, now=now,
                            ports=ports(), contact_external_id=msg_id)
        except DomainError:
            return Outcome(mapping.INVALID_TEXT)
        if result.alarm is not None:
            return Outcome(result.alarm.advice(result.ticket.number), True, result.events)
        return Outcome(mapping.accepted(result.ticket.number), True, result.events)
    ticket = last_demand(session, Channel.WECHAT, openid, now, FOLLOW_UP_WINDOW)
    events: list[Event] = []
    if ticket is not None:
        events, ticket = add_to_demand(
            session, ticket, WECHAT_ACTOR, now, note=mapping.note_text(message),
            relocate=(mapping.relocate_payload(message) if message.msg_type == "location"
                      else None),
            ports=ports(), directory=directory())
    contact = record_contact(session, channel=Channel.WECHAT, kind=ContactKind.FOLLOW_UP,
                             received_at=now, actor_id=None, ticket=ticket, openid=openid,
                             external_id=msg_id, note=mapping.note_text(message))
    return Outcome(reply_for(session, contact, message), True, events)


def deferrable(message: Message, classifier: Callable[[], Classifier]) -> bool:
    """Whether the hook may hold this message and answer that the ticket number follows:
    a demand, image or location, never an enquiry (查询 is answered now) and never an
    emergency (the citizen must be told at once to call 110): the classifier judges the words
    here, before any deferral, as intake would."""
    if message.msg_type not in HELD_TYPES or message.msg_id is None:
        return False
    if mapping.is_query(message):
        return False
    words = mapping.demand_text(message) if message.msg_type in ("text", "voice") else None
    if words is None:
        return True
    suggestion = classifier().suggest(words)
    return not (suggestion.police_matter or suggestion.urgency == Urgency.CRITICAL
                or bool(getattr(suggestion, "emergency", False)))


@dataclass(frozen=True)
class HeldOutcome:
    """What processing a held message did: the events to publish after the commit, the
    ticket number the citizen is sent (None: no ticket) and whether a follow-up was owed."""

    events: Sequence[Event]
    ticket_number: str | None
    follow_up: bool


def answer_held(session: Session, row: inbox.HeldMessage, now: datetime, *,
                ports: Callable[[], IntakePorts],
                directory: Callable[[], Directory]) -> HeldOutcome:
    """Process a held message as the hook would have (at the time it was received), mark it
    processed and owe the citizen the reply as a customer-service message (one per MsgId),
    all in the caller's transaction, uncommitted."""
    message = inbox.message_of(row)
    events: Sequence[Event] = ()
    reply = recorded_reply(session, message)  # recorded meanwhile (a concurrent push)
    if reply is None:
        outcome = answer(session, message, row.received_at, ports=ports, directory=directory)
        reply, events = outcome.reply, outcome.events
        session.flush()
    number = None
    contact = session.scalar(select(Contact).where(Contact.channel == Channel.WECHAT,
                                                   Contact.external_id == message.msg_id))
    if contact is not None and contact.ticket_id is not None:
        ticket = session.get(Ticket, contact.ticket_id)
        number = ticket.number if ticket is not None else None
    owed = False
    if reply is not None:
        owed = outbox.enqueue(
            session, CUSTOMER_SERVICE,
            {"touser": message.from_user, "msgtype": "text", "text": {"content": reply},
             "msg_id": message.msg_id, "ticket_no": number},
            key=f"{CUSTOMER_SERVICE}:{message.msg_id}",
            ticket_id=contact.ticket_id if contact is not None else None, now=now)
    row.processed_at = now
    row.ticket_number = number
    row.attempts += 1
    row.last_error = None
    return HeldOutcome(tuple(events), number, owed)
