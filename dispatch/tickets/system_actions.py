"""A system action taken on every ticket a sweep finds due (an alarm's escalation, a
suspension's resume): claimed in batches with `FOR UPDATE SKIP LOCKED` in ticket-id order, each
batch committed on its own; a ticket whose action fails is rolled back with its batch and set
aside until the next sweep, the rest of the batch taken again without it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select
from sqlalchemy.orm import Session

from dispatch.core.models import Event, Ticket
from dispatch.core.ports import Directory, PublishedEvent
from dispatch.tickets.lifecycle import SYSTEM, perform

_log = logging.getLogger(__name__)


@dataclass
class Swept:
    """What the batches did: the tickets acted on, their committed events, those set aside."""

    numbers: list[str] = field(default_factory=list)
    events: list[PublishedEvent] = field(default_factory=list)
    failed: set[int] = field(default_factory=set)


def act_on_due(session: Session, due: Callable[[set[int]], Select[tuple[Ticket]]], action: str,
               now: datetime, directory: Directory, *, limit: int) -> Swept:
    """Take `action` as the system on each ticket `due(set_aside)` selects (its ticket-id order,
    at most `limit` a batch, locked SKIP LOCKED), a batch per transaction, until none is left."""
    swept = Swept()
    while True:
        session.expire_all()
        query = due(swept.failed).order_by(Ticket.id).limit(limit).with_for_update(
            skip_locked=True, of=Ticket)
        tickets = list(session.scalars(query))
        if not tickets:
            session.rollback()
            return swept
        events: list[Event] = []
        current = tickets[0].id
        try:
            for ticket in tickets:
                current = ticket.id
                events += perform(session, ticket, action, SYSTEM, {},
                                  now=now, directory=directory).events
            session.flush()
            batch = [PublishedEvent(e.id, e.ticket_id, e.ticket.number, e.action,
                                    e.from_status, e.to_status) for e in events]
            numbers = [t.number for t in tickets]
            session.commit()
        except Exception:
            session.rollback()
            _log.exception("%s sweep: ticket %s failed; skipped until the next sweep",
                           action, current)
            swept.failed.add(current)
            continue
        swept.numbers += numbers
        swept.events += batch
