"""Calls as the API and the pages show them (the caller by the scoping rule, unmasked reads
logged by the call's ticket or contact)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.calls.access import caller_shown
from dispatch.calls.models import Call, CallbackAttempt
from dispatch.core.actors import Actor
from dispatch.core.models import PersonalDataRead, Ticket, User
from dispatch.tickets.readmodel import log_personal_reads


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def call_views(session: Session, calls: Sequence[Call], actor: Actor, now: datetime,
               *, attempts: bool = False) -> list[dict[str, Any]]:
    """Calls as this actor may read them; one audit insert for the page."""
    numbers = dict(session.execute(select(Ticket.id, Ticket.number).where(
        Ticket.id.in_({c.ticket_id for c in calls if c.ticket_id}))).tuples().all()) \
        if any(c.ticket_id for c in calls) else {}
    agents = dict(session.execute(select(User.id, User.display_name).where(
        User.id.in_({c.agent_user_id for c in calls if c.agent_user_id}))).tuples().all()) \
        if any(c.agent_user_id for c in calls) else {}
    tries: dict[int, list[dict[str, Any]]] = {}
    if attempts and calls:
        rows = session.execute(
            select(CallbackAttempt, User.display_name).join(
                User, User.id == CallbackAttempt.user_id, isouter=True)
            .where(CallbackAttempt.call_pk.in_([c.id for c in calls]))
            .order_by(CallbackAttempt.at, CallbackAttempt.id)).all()
        for a, name in rows:
            tries.setdefault(a.call_pk, []).append(
                {"at": iso(a.at), "by": name, "outcome": a.outcome, "note": a.note})
    out, reads, loose = [], [], []
    for c in calls:
        caller, unmasked = caller_shown(session, actor, c)
        if unmasked:
            if c.ticket_id:
                reads.append((c.ticket_id, "call.caller"))
            elif c.contact_id:
                loose.append((c.contact_id, "call.caller"))
        view: dict[str, Any] = {
            "call_id": c.call_id, "state": c.state, "caller": caller, "callee": c.callee,
            "agent": c.agent_extension, "agent_name": agents.get(c.agent_user_id or 0),
            "unknown_agent": c.unknown_agent, "queue": c.queue,
            "rang_at": iso(c.rang_at), "answered_at": iso(c.answered_at),
            "ended_at": iso(c.ended_at), "wait_s": c.wait_s, "duration_s": c.duration_s,
            "recording": bool(c.recording_url),
            "transfer_to": c.transfer_to, "transferred_at": iso(c.transferred_at),
            "transfer_requested_to": c.transfer_requested_to,
            "ticket": numbers.get(c.ticket_id or 0),
            "missed_deadline": iso(c.missed_deadline), "called_back_at": iso(c.called_back_at),
            "callback_tries": c.callback_tries,
            "overdue": bool(c.missed_deadline is not None and c.called_back_at is None
                            and now > c.missed_deadline),
        }
        if attempts:
            view["attempts"] = tries.get(c.id, [])
        out.append(view)
    if reads or loose:
        log_personal_reads(session, actor, reads, now, contacts=loose)
    return out


def listen(session: Session, call_id: str, actor: Actor, now: datetime) -> str:
    """The recording's address of a call this actor may see; the listen is logged as a read
    of personal data (by the call's ticket, or its contact)."""
    from dispatch.calls.access import get_call
    from dispatch.core.errors import NotFound

    call = get_call(session, call_id, actor)
    if not call.recording_url:
        raise NotFound(f"call_id: 通话 {call.call_id} 还没有录音", field="call_id")
    if actor.id is not None:  # by ticket, else by contact; the call's id in the fields
        session.add(PersonalDataRead(
            user_id=actor.id, ticket_id=call.ticket_id,
            contact_id=None if call.ticket_id else call.contact_id, at=now,
            fields=f"recording:{call.call_id}"[:60]))
    return call.recording_url
