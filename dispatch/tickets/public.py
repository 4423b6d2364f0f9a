"""What anyone may read about tickets, for public channels (Open311): the demand, its state,
place, category, responsible department and deadline, never the citizen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.models import Assignment, Category, Event, Ticket
from dispatch.core.ports import Directory
from dispatch.core.vocab import ACTIVE_ASSIGNMENT, CLOSED_STATES, Role, Status

# Void and merged tickets are not public requests (a prank, or a repeat of another).
HIDDEN = (Status.VOID, Status.MERGED)


@dataclass(frozen=True)
class PublicQuery:
    """Numbers (then nothing else counts), or categories, open/closed and a time window."""

    numbers: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    states: frozenset[str] = frozenset()  # "open", "closed"; empty = both
    start: datetime | None = None
    end: datetime | None = None
    limit: int = 1000


@dataclass(frozen=True)
class PublicTicket:
    number: str
    status: str
    category_code: str | None
    category_name: str | None
    text: str
    confidential: bool
    police_matter: bool
    agency: str | None  # the lead department's name
    expected: datetime | None  # the lead's completion deadline
    created_at: datetime
    updated_at: datetime
    address: str | None
    lon: float | None
    lat: float | None
    system_notes: tuple[str, ...]  # notes a machine channel added (a photo link, say)


def find_public(session: Session, query: PublicQuery,
                directory: Directory) -> list[PublicTicket]:
    """Public tickets matching the query, newest first."""
    stmt = select(Ticket).where(Ticket.status.notin_(HIDDEN))
    if query.numbers:
        stmt = stmt.where(Ticket.number.in_(query.numbers))
    else:
        if query.categories:
            stmt = stmt.where(Ticket.category_code.in_(query.categories))
        if query.states == {"open"}:
            stmt = stmt.where(Ticket.status.notin_(tuple(CLOSED_STATES)))
        elif query.states == {"closed"}:
            stmt = stmt.where(Ticket.status.in_(tuple(CLOSED_STATES)))
        if query.start is not None:
            stmt = stmt.where(Ticket.created_at >= query.start)
        if query.end is not None:
            stmt = stmt.where(Ticket.created_at <= query.end)
    stmt = stmt.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(query.limit)
    return public_view(session, session.scalars(stmt).all(), directory)


def get_public(session: Session, number: str, directory: Directory) -> PublicTicket | None:
    """One public ticket by number (None if there is none, or it is void or merged)."""
    if "\x00" in number:  # PostgreSQL cannot compare it, and no number has one
        return None
    found = find_public(session, PublicQuery(numbers=(number,), limit=1), directory)
    return found[0] if found else None


def public_view(session: Session, tickets: Sequence[Ticket],
                directory: Directory) -> list[PublicTicket]:
    """The public facts of some tickets, with a few queries for the lot."""
    ids = [t.id for t in tickets]
    if not ids:
        return []
    leads: dict[int, Assignment] = {}
    for a in session.scalars(select(Assignment).where(
            Assignment.ticket_id.in_(ids), Assignment.role == "lead",
            Assignment.status.in_(tuple(ACTIVE_ASSIGNMENT))).order_by(Assignment.id)):
        leads[a.ticket_id] = a  # the latest active lead assignment wins
    codes = {t.category_code for t in tickets if t.category_code}
    categories: dict[str, str] = dict(session.execute(
        select(Category.code, Category.name).where(Category.code.in_(codes))
    ).tuples().all()) if codes else {}
    notes: dict[int, list[str]] = {}
    for ticket_id, payload in session.execute(select(Event.ticket_id, Event.payload).where(
            Event.ticket_id.in_(ids), Event.action == "note",
            Event.actor_role == Role.SYSTEM).order_by(Event.id)):
        notes.setdefault(ticket_id, []).append((payload or {}).get("text") or "")

    def agency(t: Ticket) -> str | None:
        code: Any = leads[t.id].department_code if t.id in leads else (t.routing or {}).get(
            "lead")
        dept = directory.department(code) if code else None
        return dept.name if dept is not None else None

    return [PublicTicket(
        t.number, t.status, t.category_code, categories.get(t.category_code or ""), t.text,
        t.confidential, t.police_matter, agency(t),
        leads[t.id].complete_deadline if t.id in leads else None, t.created_at, t.updated_at,
        t.address, t.lon, t.lat, tuple(notes.get(t.id, ()))) for t in tickets]
