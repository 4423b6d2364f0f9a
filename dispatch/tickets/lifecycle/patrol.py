"""自办自结 of a grid worker's patrol report (巡查上报, DOMAIN.md "Grid governance"): a small
matter the worker fixed on the spot. The report is the street office's: it gets the
assignment (in hand at once), the worker the step delegated from it, completed with the
photos before and after; the street office reviews it (`review_delegated_accept`), and only
then is it completed for the hotline. Taken by the patrol intake
(`dispatch.intake.patrol`), never asked for on its own."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from dispatch.core.commands import SelfHandlePayload
from dispatch.core.errors import Conflict, InvalidInput
from dispatch.core.models import Delegation, User
from dispatch.core.vocab import AssignmentStatus, Channel, DelegationStatus
from dispatch.tickets import attachments
from dispatch.tickets.access import DEPARTMENTS
from dispatch.tickets.lifecycle.assignments import start_assignment
from dispatch.tickets.lifecycle.context import Context, Step
from dispatch.tickets.lifecycle.table import S


def street_office(c: Context) -> str | None:
    """The territorial office of the ticket's street, else the top of the worker's
    department (their community's street office)."""
    if c.ticket.street_code:
        found = c.session.scalar(select(DEPARTMENTS.c.code).where(
            DEPARTMENTS.c.street_code == c.ticket.street_code,
            DEPARTMENTS.c.kind == "territorial", DEPARTMENTS.c.parent_code.is_(None),
            DEPARTMENTS.c.active.is_(True)))
        if found:
            return str(found)
    worker = c.session.get(User, c.actor.id)
    code = worker.department_code if worker else None
    for _ in range(5):  # up the hierarchy to the street office
        if code is None:
            return None
        parent = c.session.scalar(select(DEPARTMENTS.c.parent_code)
                                  .where(DEPARTMENTS.c.code == code))
        if parent is None:
            return code
        code = parent
    return code


def _self_handle(c: Context) -> Step:
    t, p = c.ticket, c.payload
    if t.channel != Channel.PATROL or t.created_by_id != c.actor.id or t.assignments:
        raise Conflict("只有本人刚上报、尚未派单的巡查工单才能自办自结")
    if not p.before or not p.after:
        missing = "before" if not p.before else "after"
        raise InvalidInput(f"self_handled.{missing}: 自办自结须附处理前和处理后的照片",
                           field=f"self_handled.{missing}")
    office = street_office(c)
    if office is None:
        raise InvalidInput("lon: 上报位置不在任何街道（乡镇）内，不能自办自结；请上报派单",
                           field="lon")
    reported = attachments.evidence(c.session, t, c.actor, _Photos(p))
    a = start_assignment(c, office, "lead", None)
    a.status, a.signed_at = AssignmentStatus.SIGNED, c.now
    c.session.flush()
    d = Delegation(ticket=t, assignment_id=a.id, parent_id=None, from_department_code=office,
                   grid_worker_id=c.actor.id, status=DelegationStatus.COMPLETED,
                   delegated_at=c.now, delegated_by_id=c.actor.id, sign_deadline=c.now,
                   signed_at=c.now, complete_deadline=c.now, completed_at=c.now,
                   result=p.result)
    c.session.add(d)
    c.session.flush()
    return Step(S.SIGNED, {"department": office, "assignment_id": a.id,
                           "delegation_id": d.id, "result": p.result,
                           "before": list(p.before), "after": list(p.after), **reported})


class _Photos:
    """The before and after photos as the evidence of one report."""

    def __init__(self, p: SelfHandlePayload) -> None:
        self.attachments = list(p.before) + list(p.after)
        self.lon, self.lat = p.lon, p.lat


PATROL_HANDLERS: dict[str, Callable[[Context], Step]] = {"self_handle": _self_handle}
