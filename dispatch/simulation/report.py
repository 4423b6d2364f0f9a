"""What a simulation made, counted from the database: tickets and contacts by kind, channel and
status, actions, and the completion (办结率), callback (回访率) and satisfaction (满意率) rates of
DOMAIN.md computed from the events of its own tickets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from dispatch.core.models import (
    Assignment,
    Contact,
    Event,
    Ticket,
)
from dispatch.core.vocab import (
    Satisfaction,
    Status,
)


class Counters:
    tickets: int = 0
    contacts: int = 0
    actions: int = 0
    sweeps: int = 0
    commits: int = 0
    patrols: int = 0  # grid workers' patrol reports (巡查上报)
    self_handled: int = 0  # … fixed on the spot (自办自结)
    appeals: int = 0  # appeals decided (申诉)


@dataclass(frozen=True)
class Rate:
    """A rate with the counts behind it."""

    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None


@dataclass(frozen=True)
class SimulationReport:
    """What a run made, counted from the database (its own tickets and contacts only)."""

    preset: str
    seed: int
    scale: float
    start: datetime
    end: datetime
    contacts: Mapping[str, int]
    tickets_by_channel: Mapping[str, int]
    tickets_by_status: Mapping[str, int]
    actions: Mapping[str, int]
    completion: Rate
    callback: Rate
    satisfaction: Rate
    overdue_assignments: int
    wall_seconds: float
    counters: Counters = field(default_factory=Counters)

    @property
    def tickets(self) -> int:
        return sum(self.tickets_by_channel.values())

    @property
    def total_contacts(self) -> int:
        return sum(self.contacts.values())

    @property
    def tickets_per_second(self) -> float:
        return self.tickets / self.wall_seconds if self.wall_seconds else 0.0


def summarise(
    session: Session,
    first_ticket: int,
    first_contact: int,
    *,
    preset: str,
    seed: int,
    scale: float,
    start: datetime,
    end: datetime,
    wall_seconds: float,
    counters: Counters | None = None,
) -> SimulationReport:
    """The report of the tickets (id ≥ `first_ticket`) and contacts (id ≥ `first_contact`) of
    a run: counts, and the completion (办结率), callback (回访率) and satisfaction (满意率)
    rates of DOMAIN.md computed from their events."""
    s = session
    ours = Event.ticket_id >= first_ticket

    def grouped(column: Any, *where: Any) -> dict[str, int]:
        rows = s.execute(
            select(column, func.count()).where(*where).group_by(column).order_by(column)
        )
        return {str(k): int(n) for k, n in rows}

    def tickets_with(*where: Any) -> int:
        return s.scalar(select(func.count(func.distinct(Event.ticket_id))).where(ours, *where)) or 0

    dispatched = tickets_with(Event.action == "dispatch")
    completed = tickets_with(Event.action == "complete", Event.to_status == Status.COMPLETED)
    needing = tickets_with(Event.action == "review_accept", _payload_true("callback_needed"))
    called = tickets_with(
        Event.action == "callback",
        Event.ticket_id.in_(
            select(Event.ticket_id).where(
                ours, Event.action == "review_accept", _payload_true("callback_needed")
            )
        ),
    )
    satisfaction = _satisfaction(s, first_ticket)
    overdue = (
        s.scalar(
            select(func.count())
            .select_from(Assignment)
            .where(
                Assignment.ticket_id >= first_ticket,
                and_(Assignment.complete_overdue_at.is_not(None)),
            )
        )
        or 0
    )
    return SimulationReport(
        preset=preset,
        seed=seed,
        scale=scale,
        start=start,
        end=end,
        contacts=grouped(Contact.kind, Contact.id >= first_contact),
        tickets_by_channel=grouped(Ticket.channel, Ticket.id >= first_ticket),
        tickets_by_status=grouped(Ticket.status, Ticket.id >= first_ticket),
        actions=grouped(Event.action, ours),
        completion=Rate(completed, dispatched),
        callback=Rate(called, needing),
        satisfaction=satisfaction,
        overdue_assignments=overdue,
        wall_seconds=wall_seconds,
        counters=counters or Counters(),
    )


def _payload_true(key: str) -> Any:
    # JSON on SQLite, JSONB on PostgreSQL: compare the extracted value as JSON text.
    return Event.payload[key].as_boolean().is_(True)


def _satisfaction(session: Session, first_ticket: int) -> Rate:
    """(satisfied + basically satisfied) ÷ callbacks with an answer, from the events."""
    rows = session.execute(
        select(Event.payload).where(Event.ticket_id >= first_ticket, Event.action == "callback")
    ).scalars()
    answered = good = 0
    for payload in rows:
        if not (payload or {}).get("reached"):
            continue
        answered += 1
        if payload.get("satisfaction") in (
            Satisfaction.SATISFIED,
            Satisfaction.BASICALLY_SATISFIED,
        ):
            good += 1
    return Rate(good, answered)
