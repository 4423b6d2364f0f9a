"""Disputed responsibility (会商定责, DOMAIN.md "Grid governance"): a ticket whose lead was
returned twice, or by two departments, since the last decision goes to the hotline office's
queue (`Ticket.disputed_at`, set by the return); the office may ask the departments' opinions
(notes on the ticket), then decides the lead with a reason (`decide_lead`: dispatchers and
supervisors). The decision is final (the decided lead may not return it), recorded in the
event as {"lead", "reason", "unfounded"} (the departments whose return is judged unfounded:
the monthly assessment charges them), and the ticket is routed to the lead."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.errors import Conflict, InvalidInput
from dispatch.core.models import Assignment, Ticket
from dispatch.core.vocab import Status
from dispatch.tickets.lifecycle.assignments import close_round, start_assignment
from dispatch.tickets.lifecycle.context import Context, Step
from dispatch.tickets.lifecycle.table import S

# Returns of the lead since the last decision that send a ticket to the queue.
DISPUTE_RETURNS = 2


def last_decision(ticket: Ticket) -> datetime | None:
    """When the office last decided the lead of this ticket (None: never)."""
    times = [e.at for e in ticket.events if e.action == "decide_lead"]
    return max(times) if times else None


def lead_returns(ticket: Ticket) -> list[Assignment]:
    """The lead assignments returned since the last decision, oldest first."""
    since = last_decision(ticket)
    found = [a for a in ticket.assignments if a.role == "lead" and a.returned_at is not None
             and (since is None or a.returned_at >= since)]
    return sorted(found, key=lambda a: (a.returned_at or a.dispatched_at, a.id))


def disputed(ticket: Ticket) -> bool:
    """Returned twice, or by two departments, since the last decision."""
    returns = lead_returns(ticket)
    return (len(returns) >= DISPUTE_RETURNS
            or len({a.department_code for a in returns}) >= DISPUTE_RETURNS)


def final_lead_refusal(ticket: Ticket, a: Assignment) -> str | None:
    """Why this assignment may not be returned: the office decided this lead (final)."""
    if a.role != "lead":
        return None
    for e in reversed(ticket.events):
        if e.action == "decide_lead":
            if (e.payload or {}).get("lead") == a.department_code and a.dispatched_at >= e.at:
                return "热线办已定责由本单位主办，定责为最终决定，不能退单"
            return None
    return None


def _decide_lead(c: Context) -> Step:
    t, p = c.ticket, c.payload
    if t.disputed_at is None:
        raise Conflict(f"工单 {t.number} 不在定责队列中（主办退单两次或两个部门退单后才由热线办"
                       "定责）；请直接改派")
    dept = c.directory.department(p.lead)
    if dept is None or not dept.active:
        raise InvalidInput(f"lead: 没有启用中的部门“{p.lead}”", field="lead")
    returners = list(dict.fromkeys(a.department_code for a in lead_returns(t)))
    if p.unfounded is None:
        unfounded = [dept.code] if dept.code in returners else []
    else:
        unfounded = list(dict.fromkeys(p.unfounded))
        for code in unfounded:
            if code not in returners:
                raise InvalidInput(f"unfounded: “{code}”没有退过此工单，不能认定其退单不实",
                                   field="unfounded")
    close_round(t, c.now)
    start_assignment(c, dept.code, "lead", None)
    t.disputed_at = None
    # The shape the monthly assessment reads: keep exactly these keys.
    return Step(S.DISPATCHED, {"lead": dept.code, "reason": p.reason, "unfounded": unfounded})


DISPUTE_HANDLERS: dict[str, Callable[[Context], Step]] = {"decide_lead": _decide_lead}


def dispute_queue(session: Session) -> list[Ticket]:
    """The hotline office's 定责 queue: disputed tickets still waiting, oldest first."""
    return list(session.scalars(
        select(Ticket).where(Ticket.disputed_at.is_not(None),
                             Ticket.status == Status.RETURNED)
        .order_by(Ticket.disputed_at, Ticket.id)))
