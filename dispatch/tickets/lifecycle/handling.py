"""The handling department's actions: sign for, return, complete, extensions, and the
recomputation of provisional deadlines."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from dispatch.core.errors import Conflict, InvalidInput
from dispatch.core.models import Assignment, Extension, Ticket
from dispatch.core.vocab import (
    AssignmentStatus,
)
from dispatch.tickets import attachments
from dispatch.tickets.clocks import (
    Limit,
    add_working_days,
    deadline_after,
    warning_time,
)
from dispatch.tickets.lifecycle.assignments import (
    assignment_payload,
    close_assignment,
    moves_ticket,
    own_assignment,
    pending_request,
    rearm_completion_clock,
)
from dispatch.tickets.lifecycle.context import (
    Context,
    Step,
)
from dispatch.tickets.lifecycle.delegation import (
    DELEGATED_HANDLERS,
    DELEGATION_HANDLERS,
    cancel_below,
    held_delegation,
    open_below,
)
from dispatch.tickets.lifecycle.dispute import disputed, final_lead_refusal
from dispatch.tickets.lifecycle.suspension import (
    SUSPENSION_HANDLERS,
    end_suspension,
    moved_deadline,
)
from dispatch.tickets.lifecycle.table import (
    HANDLING_ASSIGNMENT,
    SAME,
    S,
)


def department_name(c: Context, a: Assignment) -> str:
    """The name a person reads for the assignment's department (its code if it is gone)."""
    ref = c.directory.department(a.department_code)
    return ref.name if ref else a.department_code


def _sign(c: Context) -> Step:
    delegated = held_delegation(c.ticket, c.actor)
    if delegated is not None:
        return DELEGATED_HANDLERS["sign"](c, delegated)
    a = own_assignment(c)
    if a.status != AssignmentStatus.DISPATCHED:
        raise Conflict(f"{department_name(c, a)}的派单状态为“{{status}}”，不是待签收",
                       terms={"status": ("assignment_status", a.status)})
    a.status = AssignmentStatus.SIGNED
    a.signed_at = c.now
    return Step(moves_ticket(a, S.SIGNED),
                {**assignment_payload(a), "on_time": c.now <= a.sign_deadline})


def _return(c: Context) -> Step:
    delegated = held_delegation(c.ticket, c.actor)
    if delegated is not None:
        return DELEGATED_HANDLERS["return"](c, delegated)
    a = own_assignment(c)
    if a.status not in (AssignmentStatus.DISPATCHED, AssignmentStatus.SIGNED):
        raise Conflict(f"{department_name(c, a)}的派单状态为“{{status}}”，不能退单",
                       terms={"status": ("assignment_status", a.status)})
    refusal = final_lead_refusal(c.ticket, a)
    if refusal is not None:
        raise Conflict(refusal)
    cancelled = cancel_below(c.ticket, a.id, c.now)  # the steps delegated below it end too
    close_assignment(a, AssignmentStatus.RETURNED, c.now)
    a.returned_at = c.now
    a.return_reason = c.payload.reason
    payload = assignment_payload(a)
    if cancelled:
        payload["cancelled_delegations"] = cancelled
    to = moves_ticket(a, S.RETURNED)
    if to == S.RETURNED and disputed(c.ticket) and c.ticket.disputed_at is None:
        c.ticket.disputed_at = c.now  # 会商定责: to the hotline office's queue
        payload["disputed"] = True
    return Step(to, payload)


def _complete(c: Context) -> Step:
    delegated = held_delegation(c.ticket, c.actor)
    if delegated is not None:
        return DELEGATED_HANDLERS["complete"](c, delegated)
    a = own_assignment(c)
    if a.status != AssignmentStatus.SIGNED:
        raise Conflict(f"{department_name(c, a)}的派单状态为“{{status}}”，请先签收再办结",
                       terms={"status": ("assignment_status", a.status)})
    if open_below(c.ticket, a.id, None) is not None:
        raise Conflict("此派单已下派，须待下一级办结并经本单位审核通过后才算办结")
    # The photos and the place are checked before anything changes.
    reported = attachments.evidence(c.session, c.ticket, c.actor, c.payload)
    end_suspension(c, a, c.now)  # a stopped clock runs again to the completion
    a.status = AssignmentStatus.COMPLETED
    a.completed_at = c.now
    a.result = c.payload.result
    return Step(moves_ticket(a, S.COMPLETED), {
        **assignment_payload(a), "result": c.payload.result,
        "on_time": c.now <= a.complete_deadline, **reported,
        **({"publish": True} if c.payload.publish else {}),  # photos shown on /track
    })


def extension_refusal(ticket: Ticket, a: Assignment, now: datetime,
                      max_extensions: int) -> str | None:
    """Why this assignment may not ask for an extension now, None when it may: still in hand,
    before its completion deadline, under the number of extensions allowed, none pending. The
    one rule behind the refusal of `request_extension` and the ticket's `actions` offer."""
    if a.status not in (AssignmentStatus.DISPATCHED, AssignmentStatus.SIGNED):
        return f"{a.department_code} 的派单已不在办理中（已办结、已退单或已撤销），不能延期"
    if a.suspended_until is not None:
        return "此派单已挂起；恢复后才能申请延期"
    if now >= a.complete_deadline:
        return "办结时限已过；延期须在时限届满前申请"
    if a.extensions_used >= max_extensions:
        return f"此派单已延期 {a.extensions_used} 次，已达上限"
    if any(e.status == "pending" and e.assignment_id == a.id for e in ticket.extensions):
        return "此派单已有一个待审批的延期申请"
    return None


def _request_extension(c: Context) -> Step:
    a, p = own_assignment(c), c.payload
    refusal = extension_refusal(c.ticket, a, c.now, c.limits.max_extensions)
    if refusal is not None:
        raise Conflict(refusal)
    if p.days > c.limits.max_extension_days:
        raise InvalidInput(f"days: 最多 {c.limits.max_extension_days} 个工作日",
                           field="days")
    ext = Extension(ticket=c.ticket, assignment_id=a.id, status="pending", days=p.days,
                    reason=p.reason, requested_at=c.now, requested_by_id=c.actor.id,
                    old_deadline=a.complete_deadline)
    c.session.add(ext)
    c.session.flush()
    return Step(SAME, {**assignment_payload(a), "extension_id": ext.id, "days": p.days})


def _approve_extension(c: Context) -> Step:
    ext = pending_request(c.ticket, c.ticket.extensions, c.payload.extension_id,
                          field="extension_id", noun="延期申请")
    days = c.payload.days or ext.days
    if days > ext.days:
        raise InvalidInput(f"days: 批准天数不能超过申请的 {ext.days} 个工作日",
                           field="days")
    a = c.session.get(Assignment, ext.assignment_id)
    assert a is not None
    if a.status not in (AssignmentStatus.DISPATCHED, AssignmentStatus.SIGNED):
        raise Conflict(f"{a.department_code} 的派单已不在办理中（已办结、已退单或已撤销），"
                       "不能延期")
    if a.extensions_used >= c.limits.max_extensions:
        raise Conflict("此派单的延期次数已达上限")
    if a.suspended_until is not None:
        raise Conflict("此派单已挂起；恢复后才能批准延期")
    moved = add_working_days(c.session, a.complete_deadline, days)
    ext.status, ext.decided_at, ext.decided_by_id = "approved", c.now, c.actor.id
    ext.days, ext.new_deadline = days, moved.at
    ext.decision_reason = c.payload.reason
    a.complete_deadline = moved.at
    a.complete_warn_at = warning_time(a.dispatched_at, moved.at, c.limits.warning_ratio)
    rearm_completion_clock(a)
    a.deadline_provisional = a.deadline_provisional or moved.provisional
    a.extensions_used += 1
    return Step(SAME, {**assignment_payload(a), "extension_id": ext.id, "days": days,
                       "old_deadline": ext.old_deadline.isoformat(),
                       "new_deadline": moved.at.isoformat()})


def _refuse_extension(c: Context) -> Step:
    ext = pending_request(c.ticket, c.ticket.extensions, c.payload.extension_id,
                          field="extension_id", noun="延期申请")
    ext.status, ext.decided_at, ext.decided_by_id = "refused", c.now, c.actor.id
    ext.decision_reason = c.payload.reason
    return Step(SAME, {"extension_id": ext.id})


def _recompute_deadlines(c: Context) -> Step:
    changed = []
    for a in c.ticket.assignments:
        if a.status not in HANDLING_ASSIGNMENT or not a.deadline_provisional \
                or a.suspended_until is not None:  # a stopped clock: when it runs again
            continue
        sign = deadline_after(c.session, a.dispatched_at, Limit.model_validate(a.sign_limit))
        done = deadline_after(c.session, a.dispatched_at,
                              Limit.model_validate(a.complete_limit))
        at, provisional = done.at, sign.provisional or done.provisional
        approved = [e for e in c.ticket.extensions
                    if e.assignment_id == a.id and e.status == "approved"]
        for ext in sorted(approved, key=lambda e: (e.decided_at, e.id)):
            moved = add_working_days(c.session, at, ext.days)
            at, provisional = moved.at, provisional or moved.provisional
        for x in c.ticket.suspensions:  # the time its clock stood (挂起)
            if x.assignment_id == a.id and x.status == "ended" and x.decided_at and x.ended_at:
                at, moved_provisional = moved_deadline(c.session, a, at, x.decided_at,
                                                       x.ended_at)
                provisional = provisional or moved_provisional
        old = a.complete_deadline
        a.sign_deadline = sign.at
        a.sign_warn_at = warning_time(a.dispatched_at, sign.at, c.limits.warning_ratio)
        a.complete_deadline = at
        a.complete_warn_at = warning_time(a.dispatched_at, at, c.limits.warning_ratio)
        if at != old:
            rearm_completion_clock(a)
        a.deadline_provisional = provisional
        changed.append({**assignment_payload(a), "old_deadline": old.isoformat(),
                        "new_deadline": at.isoformat(), "provisional": provisional})
    return Step(SAME, {"assignments": changed})


# action → its handler (the handling department's part of the state table)
HANDLING_HANDLERS: dict[str, Callable[[Context], Step]] = {
    "sign": _sign,
    "return": _return,
    "complete": _complete,
    "request_extension": _request_extension,
    "approve_extension": _approve_extension,
    "refuse_extension": _refuse_extension,
    "recompute_deadlines": _recompute_deadlines,
    **SUSPENSION_HANDLERS,
    **DELEGATION_HANDLERS,
}
