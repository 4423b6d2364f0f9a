"""Assignments (主办/协办) and their clocks: started, closed, the lead, the round of handling."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol, TypeVar

from dispatch.core.actors import Actor
from dispatch.core.errors import Conflict, Forbidden, InvalidInput
from dispatch.core.models import Assignment, Ticket, User
from dispatch.core.vocab import (
    ACTIVE_ASSIGNMENT,
    AssignmentStatus,
    Status,
)
from dispatch.tickets.clocks import (
    deadline_after,
    warning_time,
)
from dispatch.tickets.lifecycle.context import (
    Context,
)
from dispatch.tickets.lifecycle.table import (
    SAME,
    R,
)


def held_assignment(ticket: Ticket, actor: Actor) -> Assignment | None:
    for a in ticket.assignments:
        if not is_open(a):
            continue
        if actor.role == R.HANDLER and a.department_code == actor.department_code:
            return a
        if actor.role == R.GRID_WORKER and a.grid_worker_id == actor.id:
            return a
    return None


def needs_callback(ticket: Ticket) -> bool:
    """A callback is owed to every reachable, non-anonymous citizen."""
    return not ticket.anonymous and bool(ticket.citizen_phone or ticket.citizen_openid)


def own_assignment(ctx: Context) -> Assignment:
    """The active assignment the acting handler or grid worker holds on this ticket."""
    held = held_assignment(ctx.ticket, ctx.actor)
    if held is not None:
        return held
    raise Forbidden(f"你在工单 {ctx.ticket.number} 上没有正在办理的派单")


def lead_assignment(ticket: Ticket) -> Assignment | None:
    """The active lead assignment, if any."""
    for a in ticket.assignments:
        if a.role == "lead" and is_open(a):
            return a
    return None


def is_open(a: Assignment) -> bool:
    """Still part of the current handling round (not returned, cancelled or closed)."""
    return a.closed_at is None and a.status in ACTIVE_ASSIGNMENT


def close_round(ticket: Ticket, now: datetime) -> None:
    """Close the current round: completions stay completed, the rest are cancelled."""
    for a in ticket.assignments:
        if is_open(a):
            done = a.status == AssignmentStatus.COMPLETED
            close_assignment(a, AssignmentStatus.COMPLETED if done
                              else AssignmentStatus.CANCELLED, now)


def moves_ticket(a: Assignment, status: Status) -> Status | None:
    return status if a.role == "lead" else SAME


def start_assignment(ctx: Context, department: str, role: str,
                      grid_worker: User | None) -> Assignment:
    ticket, limits, now = ctx.ticket, ctx.limits, ctx.now
    sign_limit = limits.sign_limit(ticket.urgency)
    complete_limit = limits.complete_limit(ticket.type, ticket.urgency)
    sign = deadline_after(ctx.session, now, sign_limit)
    complete = deadline_after(ctx.session, now, complete_limit)
    a = Assignment(
        ticket=ticket, department_code=department, role=role,
        grid_worker_id=grid_worker.id if grid_worker else None,
        status=AssignmentStatus.DISPATCHED, dispatched_at=now, dispatched_by_id=ctx.actor.id,
        sign_deadline=sign.at, sign_warn_at=warning_time(now, sign.at, limits.warning_ratio),
        complete_deadline=complete.at,
        complete_warn_at=warning_time(now, complete.at, limits.warning_ratio),
        deadline_provisional=sign.provisional or complete.provisional,
        sign_limit=sign_limit.model_dump(), complete_limit=complete_limit.model_dump(),
        extensions_used=0,
    )
    ctx.session.add(a)
    return a


def close_assignment(a: Assignment, status: AssignmentStatus, now: datetime) -> None:
    a.status = status
    a.closed_at = now


def assignment_payload(a: Assignment) -> dict[str, Any]:
    return {"assignment_id": a.id, "department": a.department_code, "role": a.role}


def rearm_completion_clock(a: Assignment) -> None:
    # A moved completion deadline is a new clock: its warning and overdue fire again
    # (dispatch.tickets.sweeps fires only steps whose mark is NULL).
    a.complete_warned_at = None
    a.complete_overdue_at = None


class _Request(Protocol):
    id: Any
    status: Any


PendingT = TypeVar("PendingT", bound=_Request)


def pending_request(ticket: Ticket, requests: Iterable[PendingT], chosen: int | None, *,
                    field: str, noun: str) -> PendingT:
    """The one pending request (an extension's, a suspension's) an approval or refusal is
    about: the chosen one, or the only one there is."""
    pending = [r for r in requests if r.status == "pending"]
    if chosen is not None:
        pending = [r for r in pending if r.id == chosen]
        if not pending:
            raise InvalidInput(f"{field}: 没有待审批的{noun} {chosen}", field=field)
    if not pending:
        raise Conflict(f"工单 {ticket.number} 没有待审批的{noun}")
    if len(pending) > 1:
        raise InvalidInput(f"{field}: 有多个待审批的{noun}，请指明其中一个", field=field)
    return pending[0]
