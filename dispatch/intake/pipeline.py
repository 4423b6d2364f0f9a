"""Intake, read top to bottom: normalise → classify → locate → route → repeats → number → open
→ respond (alarm on an unattended channel, automatic 110 transfer, automatic dispatch).

Classification, grid location and routing come in through ports (`grid/` implements the
locator and router); with no grid loaded, what the caller gave is kept as it is and nothing is
guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dispatch.core.commands import CitizenIn, TicketCreate, parse
from dispatch.core.errors import InvalidInput
from dispatch.core.models import Contact, Event, Ticket
from dispatch.core.ports import (  # noqa: F401 - the pipeline's ports, re-exported
    Classifier,
    IntakePorts,
    Location,
    Locator,
    NoClassifier,
    NoGrid,
    Router,
    Routing,
    Suggestion,
)
from dispatch.core.vocab import ContactKind, Urgency
from dispatch.intake.alarms import Alarm, raise_at_intake
from dispatch.intake.autodispatch import Decision, decide, dispatch_at_intake, get_settings
from dispatch.intake.contacts import record_contact
from dispatch.intake.numbering import next_ticket_number
from dispatch.intake.phones import normalize_phone
from dispatch.intake.repeats import RepeatCandidate, category_tree, find_repeats
from dispatch.tickets.lifecycle import Actor, open_ticket


@dataclass(frozen=True)
class Citizen:
    name: str | None
    phone: str | None
    openid: str | None
    anonymous: bool
    confidential: bool
    direct_contact: bool


@dataclass(frozen=True)
class IntakeResult:
    ticket: Ticket
    event: Event
    contact: Contact
    repeats: tuple[RepeatCandidate, ...] = ()
    # Every event intake wrote: the intake event, then what the judgement led to (alarm,
    # transfer to 110, automatic dispatch). Publish these after the commit.
    events: tuple[Event, ...] = ()
    alarm: Alarm | None = None  # an emergency on an unattended channel: tell the citizen
    auto_dispatch: Decision | None = None  # why it was (or was not) dispatched automatically


def normalise_citizen(citizen: CitizenIn) -> Citizen:
    """Validate and normalise the citizen's particulars."""
    phone = normalize_phone(citizen.phone) if citizen.phone else None
    name = citizen.name or None
    if citizen.anonymous:
        name = None
    return Citizen(name, phone, citizen.openid or None, citizen.anonymous,
                   citizen.confidential, citizen.direct_contact and phone is not None)


def check_category(session: Session, code: str | None) -> str | None:
    """An existing, active category code (or None)."""
    if code is None:
        return None
    node = category_tree(session).get(code)
    if node is None or not node[1]:
        raise InvalidInput(f"category: 没有启用中的分类“{code}”", field="category")
    return code


def intake(
    session: Session,
    data: TicketCreate | dict[str, Any],
    actor: Actor,
    *,
    now: datetime,
    ports: IntakePorts | None = None,
    external_ref: str | None = None,
    contact_external_id: str | None = None,
) -> IntakeResult:
    """Log one demand: a new ticket in NEW, its intake event and its contact."""
    ports = ports or IntakePorts()
    cmd = data if isinstance(data, TicketCreate) else parse(TicketCreate, data)
    if (cmd.lon is None) != (cmd.lat is None):
        missing = "lat" if cmd.lat is None else "lon"
        raise InvalidInput(f"{missing}: lon 和 lat 须同时提供或都不提供", field=missing)
    citizen = normalise_citizen(cmd.citizen)
    category = check_category(session, cmd.category)

    suggestion = ports.classifier.suggest(cmd.text)
    category = category or check_category(session, suggestion.category)
    location = ports.locator.locate(cmd.lon, cmd.lat, cmd.crs, cmd.address)
    routing = ports.router.route(category, location)
    repeats = find_repeats(session, category=category, lon=location.lon, lat=location.lat,
                           phone=citizen.phone, openid=citizen.openid, now=now)

    ticket = Ticket(
        number=next_ticket_number(session, now),
        channel=cmd.channel, text=cmd.text,
        type=cmd.type or suggestion.type,
        category_code=category,
        urgency=cmd.urgency or suggestion.urgency or Urgency.NORMAL,
        police_matter=(cmd.police_matter if cmd.police_matter is not None
                       else suggestion.police_matter),
        citizen_name=citizen.name, citizen_phone=citizen.phone, citizen_openid=citizen.openid,
        anonymous=citizen.anonymous, confidential=citizen.confidential,
        direct_contact=citizen.direct_contact,
        address=location.address, lon=location.lon, lat=location.lat,
        cell_code=location.cell, community_code=location.community,
        street_code=location.street, grid_version=location.grid_version,
        location_flags=list(location.flags),
        routing=routing.as_dict(),
        external_ref=external_ref, created_by_id=actor.id,
        callback_attempts=0, supervised=False,
    )
    event = open_ticket(session, ticket, actor, now, {
        "channel": cmd.channel,
        "suggested": {"type": suggestion.type, "category": suggestion.category,
                      "urgency": suggestion.urgency, "police_matter": suggestion.police_matter,
                      "reasons": list(suggestion.reasons),
                      "confidence": dict(suggestion.confidence), "model": suggestion.model,
                      "emergency": suggestion.emergency, "doubts": list(suggestion.doubts)},
        "location_flags": list(location.flags),
        "location": {"cell": location.cell, "community": location.community,
                     "street": location.street, "grid_version": location.grid_version,
                     "precision": location.precision, "reasons": list(location.reasons)},
        "routing": ticket.routing,
        "repeat_candidates": [r.as_dict() for r in repeats],
    })
    session.flush()
    contact = record_contact(
        session, channel=cmd.channel, kind=ContactKind.NEW_DEMAND, received_at=now,
        actor_id=actor.id, ticket=ticket, phone=citizen.phone, openid=citizen.openid,
        external_id=contact_external_id,
    )
    events: list[Event] = [event]
    alarm, decision = None, None
    if ports.respond:
        alarm, decision, more = respond(session, ticket, suggestion, routing, ports, now,
                                        repeats=len(repeats))
        events += more
        if more:
            session.flush()  # the ticket's version as the caller shows it
    return IntakeResult(ticket, event, contact, tuple(repeats), tuple(events), alarm, decision)


def respond(session: Session, ticket: Ticket, suggestion: Suggestion, routing: Routing,
            ports: IntakePorts, now: datetime, *, repeats: int = 0,
            ) -> tuple[Alarm | None, Decision | None, list[Event]]:
    """Act on the judgement: an emergency on an unattended channel raises its alarm (and goes
    to 110 at once when the settings say so); an ordinary, confident demand with a clear
    catalogue rule is dispatched automatically where the settings allow it."""
    settings = get_settings(session)
    alarm, events = raise_at_intake(session, ticket, suggestion, settings, now)
    if alarm is not None or ports.directory is None:
        return alarm, None, events
    decision = decide(session, ticket, suggestion, routing, settings, repeats=repeats)
    if decision.dispatch:
        events += dispatch_at_intake(session, ticket, decision, now, ports.directory, ports)
    return None, decision, events
