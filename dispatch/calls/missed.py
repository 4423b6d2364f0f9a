"""漏接回拨: the missed calls owed a callback, earliest deadline first, and the tries logged
against them (who, when, outcome); a try that reached the caller settles the call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints
from sqlalchemy import ColumnElement, UnaryExpression, func, select
from sqlalchemy.orm import Session

from dispatch.calls.access import get_call, visible_calls
from dispatch.calls.models import Call, CallbackAttempt
from dispatch.core.actors import Actor
from dispatch.core.commands import Strict, parse
from dispatch.core.errors import Conflict

# Outcomes of a callback try: 已接通, 无人接听, 占线, 无法接通 (空号/关机).
OUTCOMES = ("reached", "no_answer", "busy", "unreachable")


class CallbackTry(Strict):
    """One try at calling a missed caller back."""

    outcome: Literal["reached", "no_answer", "busy", "unreachable"]
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class CallQuery(Strict):
    """The filters of `GET /api/v1/calls`."""

    state: Literal["missed", "missed_done", "unknown_agent", "all"] = "all"
    ticket: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = None
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=1_000_000)


@dataclass(frozen=True)
class CallPage:
    items: list[Call]
    total: int
    overdue: int


def missed_open() -> list[ColumnElement[bool]]:
    """The conditions of a missed call still owed a callback."""
    return [Call.missed_deadline.is_not(None), Call.called_back_at.is_(None)]


def find_calls(session: Session, actor: Actor, q: CallQuery, now: datetime) -> CallPage:
    """A page of calls this actor may see: the 漏接回拨 queue (`missed`, earliest deadline
    first), the settled missed calls, the calls of unknown extensions, or all (newest first)."""
    from dispatch.core.models import Ticket

    conds = [visible_calls(actor)]
    order: list[UnaryExpression[Any] | Any] = [Call.rang_at.desc(), Call.id.desc()]
    if q.state == "missed":
        conds += missed_open()
        order = [Call.missed_deadline, Call.id]
    elif q.state == "missed_done":
        conds += [Call.missed_deadline.is_not(None), Call.called_back_at.is_not(None)]
        order = [Call.called_back_at.desc(), Call.id.desc()]
    elif q.state == "unknown_agent":
        conds.append(Call.unknown_agent.is_(True))
    if q.ticket:
        conds.append(Call.ticket_id.in_(select(Ticket.id).where(Ticket.number == q.ticket)))
    total = session.scalar(select(func.count()).select_from(Call).where(*conds)) or 0
    overdue = 0
    if q.state == "missed":
        overdue = session.scalar(select(func.count()).select_from(Call).where(
            *conds, Call.missed_deadline < now)) or 0
    rows = session.scalars(select(Call).where(*conds).order_by(*order)
                           .limit(q.limit).offset(q.offset)).all()
    return CallPage(list(rows), total, overdue)


def log_callback_attempt(session: Session, call_id: str, data: object, actor: Actor,
                         now: datetime) -> tuple[Call, CallbackAttempt]:
    """Log one try at calling a missed caller back; `reached` settles the call."""
    body = data if isinstance(data, CallbackTry) else parse(CallbackTry, data)
    call = get_call(session, call_id, actor)
    if call.missed_deadline is None:
        raise Conflict(f"通话 {call.call_id} 不是漏接来电，无需回拨")
    if call.called_back_at is not None:
        raise Conflict(f"通话 {call.call_id} 已回拨接通，无需再拨")
    attempt = CallbackAttempt(call_pk=call.id, user_id=actor.id, at=now, outcome=body.outcome,
                              note=body.note or None)
    session.add(attempt)
    call.callback_tries = (call.callback_tries or 0) + 1
    if body.outcome == "reached":
        call.called_back_at = now
    call.updated_at = now
    session.flush()
    return call, attempt
