"""The alarm clock (DOMAIN.md, Triage): an emergency's alarm on the dispatcher's console that
nobody acknowledged within the setting's seconds is escalated to the supervisors, once.

Like the clock sweep (`dispatch.tickets.sweeps`) it claims its tickets with `FOR UPDATE SKIP
LOCKED` in ticket-id order, fires through the lifecycle (`escalate_alarm`) and commits per
batch; a ticket that fails is set aside until the next sweep."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from dispatch.core.models import Ticket
from dispatch.core.ports import Directory, PublishedEvent
from dispatch.core.settings import get_triage_settings
from dispatch.core.vocab import OPEN_STATES
from dispatch.tickets.sweeps import NoDirectory
from dispatch.tickets.system_actions import act_on_due


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

    def due(set_aside: set[int]) -> Select[tuple[Ticket]]:
        query = select(Ticket).where(
            Ticket.alarm_raised_at.is_not(None), Ticket.alarm_raised_at <= cutoff,
            Ticket.alarm_acknowledged_at.is_(None), Ticket.alarm_escalated_at.is_(None),
            Ticket.status.in_(OPEN_STATES))
        return query.where(Ticket.id.not_in(set_aside)) if set_aside else query

    swept = act_on_due(session, due, "escalate_alarm", now, directory, limit=limit)
    return AlarmSweepReport(tuple(swept.numbers), tuple(swept.events),
                            tuple(sorted(swept.failed)))
