"""The alarm clock (DOMAIN.md, Triage): an emergency's alarm on the dispatcher's console that
nobody acknowledged within the setting's seconds is escalated to the supervisors, once.

Like the clock sweep (`dispatch.tickets.sweeps`) it claims its tickets with `FOR UPDATE SKIP
LOCKED` in ticket-id order, fires through the lifecycle (`escalate_alarm`) and commits per
batch; a ticket that fails is set aside until the next sweep."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.models import Event, Ticket
from dispatch.core.ports import Directory, PublishedEvent
from dispatch.core.settings import get_triage_settings
from dispatch.core.vocab import OPEN_STATES
from dispatch.tickets.lifecycle import SYSTEM, perform
from dispatch.tickets.sweeps import NoDirectory

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlarmSweepReport:
    """What one alarm sweep did: the tickets whose alarm it escalated, the events (committed)."""

    escalated: tuple[str, ...] = ()
    events: tuple[PublishedEvent, ...] = ()
    failed_tickets: tuple[int, ...] = ()


def sweep_alarms(session: Session, now: datetime, *, limit: int = 200,
                 directory: Directory | None = None) -> AlarmSweepReport:
    """Escalate to supervisors every alarm not acknowledged within the setting's seconds
    (60 by default), once: the mark is set in the transaction that writes the event, so a
    second sweep or worker finds nothing. Commits per batch."""
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("the alarm sweep commits: flush and commit your changes first")
    directory = directory or NoDirectory()
    seconds = get_triage_settings(session).alarm_escalation_seconds
    cutoff = now - timedelta(seconds=seconds)
    session.commit()
    escalated: list[str] = []
    published: list[PublishedEvent] = []
    failed: set[int] = set()
    while True:
        session.expire_all()
        due = (select(Ticket)
               .where(Ticket.alarm_raised_at.is_not(None), Ticket.alarm_raised_at <= cutoff,
                      Ticket.alarm_acknowledged_at.is_(None), Ticket.alarm_escalated_at.is_(None),
                      Ticket.status.in_(OPEN_STATES))
               .order_by(Ticket.id).limit(limit).with_for_update(skip_locked=True, of=Ticket))
        if failed:
            due = due.where(Ticket.id.not_in(failed))
        tickets = list(session.scalars(due))
        if not tickets:
            session.rollback()
            break
        events: list[Event] = []
        current = tickets[0].id
        try:
            for ticket in tickets:
                current = ticket.id
                events += perform(session, ticket, "escalate_alarm", SYSTEM, {},
                                  now=now, directory=directory).events
            session.flush()
            batch = [PublishedEvent(e.id, e.ticket_id, e.ticket.number, e.action,
                                    e.from_status, e.to_status) for e in events]
            numbers = [t.number for t in tickets]
            session.commit()
        except Exception:
            session.rollback()
            _log.exception("alarm sweep: ticket %s failed; skipped until the next sweep", current)
            failed.add(current)
            continue
        escalated += numbers
        published += batch
    return AlarmSweepReport(tuple(escalated), tuple(published), tuple(sorted(failed)))
