"""Delegation (下派, 层级派单; DOMAIN.md "Grid governance"): a street office that holds a signed
assignment passes it down to one of its communities or villages (departments whose parent it
is) or to a grid worker of its own subtree; a community passes its step on to a grid worker.
The one below signs for and completes within its own clocks (inside the step above's); the
one above reviews (村受理·镇审核: `review_delegated_accept` / `review_delegated_reject`), and only
the accepted review of the top step completes the assignment for the hotline. A return goes
one level up: the step above is in hand again, the ticket's state does not move.

`sign`, `return` and `complete` keep their names for the one below: their handlers ask
`held_delegation` first (the step delegated to the actor), then the assignment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from dispatch.core.actors import Actor
from dispatch.core.errors import Conflict, Forbidden, InvalidInput
from dispatch.core.models import Assignment, Delegation, Ticket, User
from dispatch.core.vocab import (
    OPEN_DELEGATION,
    AssignmentStatus,
    DelegationStatus,
    Role,
)
from dispatch.tickets import attachments
from dispatch.tickets.access import DEPARTMENTS, department_subtree
from dispatch.tickets.clocks import Limit, deadline_after
from dispatch.tickets.delegation_warnings import arm, disarm
from dispatch.tickets.lifecycle.assignments import (
    assignment_payload,
    held_assignment,
    moves_ticket,
    own_assignment,
    pending_request,
)
from dispatch.tickets.lifecycle.context import Context, Step
from dispatch.tickets.lifecycle.suspension import end_suspension, stop_new_step
from dispatch.tickets.lifecycle.table import SAME, S

D = DelegationStatus


def is_open_delegation(d: Delegation) -> bool:
    """With the one below or awaiting the review of the one above."""
    return d.closed_at is None and d.status in OPEN_DELEGATION


def held_delegation(ticket: Ticket, actor: Actor) -> Delegation | None:
    """The open step delegated to this actor (their department, or them as a grid worker)."""
    for d in ticket.delegations:
        if not is_open_delegation(d):
            continue
        if actor.role == Role.HANDLER and actor.department_code is not None \
                and d.department_code == actor.department_code:
            return d
        if actor.role == Role.GRID_WORKER and d.grid_worker_id == actor.id:
            return d
    return None


def open_below(ticket: Ticket, assignment_id: int, parent_id: int | None) -> Delegation | None:
    """The open step delegated from this one (the assignment, or a delegation), if any."""
    for d in ticket.delegations:
        if d.assignment_id == assignment_id and d.parent_id == parent_id \
                and is_open_delegation(d):
            return d
    return None


def cancel_below(ticket: Ticket, assignment_id: int, now: datetime,
                 parent_id: int | None = None) -> list[int]:
    """Cancel every open step below this one (the assignment's whole chain when `parent_id`
    is None); their ids."""
    cancelled = []
    for d in ticket.delegations:
        if d.assignment_id != assignment_id or not is_open_delegation(d):
            continue
        if parent_id is not None and not _below(ticket, d, parent_id):
            continue
        d.status, d.closed_at = D.CANCELLED, now
        disarm(d, now)
        cancelled.append(d.id)
    return cancelled


def _below(ticket: Ticket, d: Delegation, ancestor: int) -> bool:
    by_id = {x.id: x for x in ticket.delegations}
    cur: Delegation | None = d
    while cur is not None and cur.parent_id is not None:
        if cur.parent_id == ancestor:
            return True
        cur = by_id.get(cur.parent_id)
    return False


def delegation_payload(d: Delegation, worker: str | None = None) -> dict[str, Any]:
    """What every event about a delegated step says of it."""
    out: dict[str, Any] = {"delegation_id": d.id, "assignment_id": d.assignment_id,
                           "from": d.from_department_code}
    if d.department_code:
        out["to"] = d.department_code
    if worker or d.grid_worker_id:
        out["grid_worker"] = worker or d.grid_worker_id
    return out


def _worker_name(c: Context, d: Delegation) -> str | None:
    if d.grid_worker_id is None:
        return None
    user = c.session.get(User, d.grid_worker_id)
    return user.username if user else None


def _payload(c: Context, d: Delegation) -> dict[str, Any]:
    return delegation_payload(d, _worker_name(c, d))


# ---------------------------------------------------------------- the one above: delegate


def _held_step(c: Context) -> tuple[Assignment, Delegation | None]:
    """What the acting handler holds and may pass down: a step delegated to them, or their
    assignment; signed for, still in hand, nothing open below it."""
    above = held_delegation(c.ticket, c.actor)
    if above is not None:
        if above.status != D.SIGNED:
            raise Conflict("请先签收下派的任务，再继续下派")
        a = c.session.get(Assignment, above.assignment_id)
        assert a is not None
    else:
        a = own_assignment(c)
        if a.status != AssignmentStatus.SIGNED:
            raise Conflict("只有已签收、正在办理的派单才能下派")
    below = open_below(c.ticket, a.id, above.id if above else None)
    if below is not None:
        raise Conflict(f"此任务已下派（第 {below.id} 号下派），请待其办结审核或退回后再下派")
    return a, above


def _target(c: Context, to: str, from_department: str) -> tuple[str | None, User | None]:
    """The department (a child of `from_department`) or grid worker (of its subtree) `to`
    names; InvalidInput naming `to` otherwise."""
    row = c.session.execute(select(DEPARTMENTS.c.code, DEPARTMENTS.c.parent_code,
                                   DEPARTMENTS.c.active)
                            .where(DEPARTMENTS.c.code == to)).first()
    if row is not None:
        if row.parent_code != from_department:
            raise InvalidInput(f"to: “{to}”不是本单位下属的社区或村，只能下派给下一级",
                               field="to")
        if not row.active:
            raise InvalidInput(f"to: “{to}”已停用", field="to")
        return row.code, None
    worker = c.session.scalar(select(User).where(User.username == to))
    if worker is None:
        raise InvalidInput(f"to: 没有社区、村或网格员“{to}”", field="to")
    if worker.role != Role.GRID_WORKER or not worker.active:
        raise InvalidInput(f"to: “{to}”不是在岗的网格员", field="to")
    if worker.department_code not in department_subtree(c.session, from_department):
        raise InvalidInput(f"to: 网格员“{to}”不属于本单位辖区，只能下派给本辖区的网格员",
                           field="to")
    return None, worker


def _delegate(c: Context) -> Step:
    a, above = _held_step(c)
    from_department = c.actor.department_code
    assert from_department is not None  # a handler acting on its own step has one
    department, worker = _target(c, c.payload.to, from_department)
    upper = above.complete_deadline if above is not None else a.complete_deadline
    ticket = c.ticket
    sign = deadline_after(c.session, c.now, c.limits.sign_limit(ticket.urgency)).at
    limit = (Limit(unit="working_days", value=c.payload.days) if c.payload.days
             else c.limits.complete_limit(ticket.type, ticket.urgency))
    complete = deadline_after(c.session, c.now, limit).at
    # Its clocks run inside the step above's: never past its completion deadline.
    d = Delegation(ticket=ticket, assignment_id=a.id, parent_id=above.id if above else None,
                   from_department_code=from_department, department_code=department,
                   grid_worker_id=worker.id if worker else None, status=D.DISPATCHED,
                   delegated_at=c.now, delegated_by_id=c.actor.id,
                   sign_deadline=min(sign, upper), complete_deadline=min(complete, upper))
    c.session.add(d)
    c.session.flush()
    arm(c.session, d, c.limits.warning_ratio)  # its warnings (预警), like an assignment's
    stop_new_step(c, a, d)  # delegated while the assignment's clock stands (挂起)
    return Step(SAME, {**delegation_payload(d, worker.username if worker else None),
                       "level": 2 if above is not None else 1,
                       "sign_deadline": d.sign_deadline.isoformat(),
                       "complete_deadline": d.complete_deadline.isoformat()})


# ---------------------------------------------------------------- the one below


def delegated_sign(c: Context, d: Delegation) -> Step:
    """签收 of a delegated step by the one below."""
    if d.status != D.DISPATCHED:
        raise Conflict("下派的任务不是待签收状态")
    d.status, d.signed_at = D.SIGNED, c.now
    disarm(d, c.now, complete=False)  # its sign-for clock is done
    return Step(SAME, {**_payload(c, d), "delegated": True,
                       "on_time": c.now <= d.sign_deadline})


def delegated_return(c: Context, d: Delegation) -> Step:
    """退回 of a delegated step: it goes one level up (the step above is in hand again)."""
    if d.status not in (D.DISPATCHED, D.SIGNED):
        raise Conflict("已办结待审核的下派任务不能退回")
    cancelled = cancel_below(c.ticket, d.assignment_id, c.now, parent_id=d.id)
    d.status, d.closed_at = D.RETURNED, c.now
    disarm(d, c.now)
    d.returned_at, d.return_reason = c.now, c.payload.reason
    return Step(SAME, {**_payload(c, d), "delegated": True,
                       "returned_to": d.from_department_code, "cancelled": cancelled})


def delegated_complete(c: Context, d: Delegation) -> Step:
    """办结 of a delegated step: it awaits the review of the one above."""
    if d.status != D.SIGNED:
        raise Conflict("请先签收下派的任务再办结")
    below = open_below(c.ticket, d.assignment_id, d.id)
    if below is not None:
        raise Conflict("此任务已继续下派，请待下一级办结并审核通过")
    reported = attachments.evidence(c.session, c.ticket, c.actor, c.payload)
    d.status, d.completed_at, d.result = D.COMPLETED, c.now, c.payload.result
    return Step(SAME, {**_payload(c, d), "delegated": True, "result": c.payload.result,
                       "on_time": c.now <= d.complete_deadline, **reported})


DELEGATED_HANDLERS: dict[str, Callable[[Context, Delegation], Step]] = {
    "sign": delegated_sign,
    "return": delegated_return,
    "complete": delegated_complete,
}


# What a delegated step must be in for each action of the one below.
DELEGATED_ACTIONS: dict[str, tuple[str, ...]] = {
    "sign": (D.DISPATCHED,),
    "return": (D.DISPATCHED, D.SIGNED),
    "complete": (D.SIGNED,),
}


# ---------------------------------------------------------------- the one above: review


def _awaiting_review(c: Context) -> Delegation:
    """The completed step below the actor's own that the review is about."""
    mine = [d for d in c.ticket.delegations
            if d.from_department_code == c.actor.department_code and is_open_delegation(d)]
    if not mine:
        raise Forbidden(f"你在工单 {c.ticket.number} 上没有下派的任务")
    return pending_request(c.ticket, [_Review(d) for d in mine], c.payload.delegation_id,
                           field="delegation_id", noun="下派办结（待审核）").d


class _Review:
    """A delegated step seen as a request awaiting a decision (`pending_request`)."""

    def __init__(self, d: Delegation) -> None:
        self.d, self.id = d, d.id
        self.status = "pending" if d.status == D.COMPLETED else d.status


def _check_holds_above(c: Context, d: Delegation) -> Assignment:
    a = c.session.get(Assignment, d.assignment_id)
    assert a is not None
    if d.parent_id is None:
        if held_assignment(c.ticket, c.actor) is not a or a.status != AssignmentStatus.SIGNED:
            raise Conflict("本单位的派单已不在办理中，不能审核下派的任务")
    return a


def _review_delegated_accept(c: Context) -> Step:
    d = _awaiting_review(c)
    a = _check_holds_above(c, d)
    d.status, d.closed_at = D.ACCEPTED, c.now
    disarm(d, c.now)
    d.reviewed_at, d.reviewed_by_id, d.review_reason = c.now, c.actor.id, c.payload.reason
    payload = {**_payload(c, d), "result": d.result}
    if d.parent_id is not None:
        # The community accepted its grid worker's work: its own step is completed and
        # awaits the street office's review.
        above = next(x for x in c.ticket.delegations if x.id == d.parent_id)
        above.status, above.completed_at, above.result = D.COMPLETED, c.now, d.result
        return Step(SAME, {**payload, "completes_delegation": above.id})
    end_suspension(c, a, c.now)
    a.status = AssignmentStatus.COMPLETED
    a.completed_at = c.now
    a.result = d.result
    return Step(moves_ticket(a, S.COMPLETED), {
        **payload, **assignment_payload(a), "completes_assignment": a.id,
        "on_time": c.now <= a.complete_deadline})


def _review_delegated_reject(c: Context) -> Step:
    d = _awaiting_review(c)
    _check_holds_above(c, d)
    d.status, d.completed_at = D.SIGNED, None
    d.reviewed_at, d.reviewed_by_id, d.review_reason = c.now, c.actor.id, c.payload.reason
    return Step(SAME, _payload(c, d))


DELEGATION_HANDLERS: dict[str, Callable[[Context], Step]] = {
    "delegate": _delegate,
    "review_delegated_accept": _review_delegated_accept,
    "review_delegated_reject": _review_delegated_reject,
}


DELEGATION_ACTIONS = frozenset(DELEGATION_HANDLERS)


def delegation_offered(action: str, ticket: Ticket, actor: Actor) -> bool:
    """Whether a page offers this delegation action now (the table allowed it for the role
    and state; `perform` decides, with the payload): `delegate` to the holder of a signed
    step with nothing open below it, a review while a step below awaits it."""
    if action == "delegate":
        above = held_delegation(ticket, actor)
        if above is not None:
            return above.status == D.SIGNED and open_below(ticket, above.assignment_id,
                                                           above.id) is None
        a = held_assignment(ticket, actor)
        return (a is not None and a.status == AssignmentStatus.SIGNED
                and open_below(ticket, a.id, None) is None)
    return any(d.from_department_code == actor.department_code and d.status == D.COMPLETED
               and is_open_delegation(d) for d in ticket.delegations)


def assignee_offered(action: str, ticket: Ticket, actor: Actor,
                     held: Assignment | None) -> bool | None:
    """For sign, return and complete: whether offered to the one below a delegated step
    (True/False), or None when the actor holds no delegated step (the assignment decides).
    The holder of an assignment with a step open below it is not offered `complete`."""
    d = held_delegation(ticket, actor)
    if d is not None and action in DELEGATED_ACTIONS:
        if d.status not in DELEGATED_ACTIONS[action]:
            return False
        return action != "complete" or open_below(ticket, d.assignment_id, d.id) is None
    if d is not None:
        return False  # extensions and suspensions belong to the assignment's holder
    if action == "complete" and held is not None \
            and open_below(ticket, held.id, None) is not None:
        return False
    return None
