"""The screen pop (DOMAIN.md, Calls): when a call rings an operator's extension, the intake page
shows the caller's history, open tickets, a callback owed and a missed call of theirs waiting;
later events of the call update it (answered, ended with its duration, the recording)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.calls.models import Call
from dispatch.core.actors import Actor
from dispatch.core.models import Ticket, User
from dispatch.core.vocab import CLOSED_STATES, Role
from dispatch.core.vocab import Status as S
from dispatch.tickets.access import unmasked_citizen, visible_tickets
from dispatch.tickets.readmodel import list_view

HISTORY = 5
OPEN = 10


def agent_actor(session: Session, call: Call) -> Actor | None:
    """The user the call rings (the holder of its extension), as an actor."""
    user = session.get(User, call.agent_user_id) if call.agent_user_id else None
    if user is None or not user.active:
        return None
    return Actor(user.id, Role(user.role), user.department_code, username=user.username)


def _view(call: Call) -> dict[str, Any]:
    return {
        "call_id": call.call_id, "state": call.state, "caller": call.caller,
        "agent": call.agent_extension, "queue": call.queue,
        "rang_at": call.rang_at.isoformat() if call.rang_at else None,
        "wait_s": call.wait_s, "duration_s": call.duration_s,
        "recording": bool(call.recording_url),
        "transfer_to": call.transfer_to,
        "transfer_requested_to": call.transfer_requested_to,
    }


def call_update(call: Call) -> dict[str, Any]:
    """A later event of a call, for the page that popped it (state, duration, recording)."""
    return _view(call)


def screen_pop(session: Session, call: Call, now: datetime) -> dict[str, Any] | None:
    """What the agent's page shows when the call rings (None: nobody to show it to); reading
    the caller's tickets unmasked is logged like any read."""
    actor = agent_actor(session, call)
    if actor is None:
        return None
    out = _view(call) | {"history": [], "open_tickets": [], "callback_owed": [],
                         "missed_waiting": []}
    if call.caller is None:
        return out
    mine = [Ticket.citizen_phone == call.caller, visible_tickets(actor), unmasked_citizen(actor)]
    history = list(session.scalars(select(Ticket).where(*mine).order_by(
        Ticket.created_at.desc(), Ticket.id.desc()).limit(HISTORY)))
    open_ = list(session.scalars(select(Ticket).where(
        *mine, Ticket.status.not_in(list(CLOSED_STATES))).order_by(
        Ticket.created_at.desc(), Ticket.id.desc()).limit(OPEN)))
    seen = {t.id: t for t in history + open_}
    views = dict(zip(seen, list_view(session, list(seen.values()), actor, now), strict=True))
    out["history"] = [views[t.id] for t in history]
    out["open_tickets"] = [views[t.id] for t in open_]
    out["callback_owed"] = [views[t.id]["number"] for t in open_
                            if t.status == S.REVIEWED and t.callback_deadline is not None]
    missed = session.execute(select(Call.call_id, Call.missed_deadline).where(
        Call.caller == call.caller, Call.call_id != call.call_id,
        Call.missed_deadline.is_not(None), Call.called_back_at.is_(None))
        .order_by(Call.missed_deadline)).all()
    out["missed_waiting"] = [{"call_id": c, "deadline": d.isoformat()} for c, d in missed]
    return out


def agent_room(extension: str) -> str:
    """The Socket.IO room of the pages signed in with this extension."""
    return f"agent:{extension}"


def messages(session: Session, recorded: Any, now: datetime) -> list[tuple[str, dict[str, Any]]]:
    """What a recorded call event sends to its agent's pages, as (room, `call` event): the
    screen pop when it rings, the call's state after each later event; nothing for a repeat
    or a call with no extension."""
    call = recorded.call
    if not recorded.new or call.agent_extension is None:
        return []
    if recorded.rings:
        payload = screen_pop(session, call, now)
        if payload is None:
            return []
    else:
        payload = call_update(call)
    payload["event"] = recorded.event
    return [(agent_room(call.agent_extension), payload)]


LIVE_WINDOW = timedelta(hours=1)


def current_pop(session: Session, actor: Actor, now: datetime) -> dict[str, Any] | None:
    """The screen pop of the call ringing or in progress on this user's extension (a page
    opened or reconnected during the call), or None."""
    user = session.get(User, actor.id) if actor.id is not None else None
    if user is None or not user.extension:
        return None
    call = session.scalar(select(Call).where(
        Call.agent_extension == user.extension, Call.state.in_(("ringing", "answered")),
        Call.rang_at >= now - LIVE_WINDOW).order_by(Call.rang_at.desc(), Call.id.desc())
        .limit(1))
    if call is None:
        return None
    pop = screen_pop(session, call, now)
    if pop is not None:
        pop["event"] = "current"
    return pop
