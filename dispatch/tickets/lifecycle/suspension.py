"""Suspension (挂起, DOMAIN.md "Grid governance"): an assignee asks to stop its completion clock
until a date with a reason; a dispatcher approves or refuses; the clock stops until resumed (by
the assignee, by a completion, or by the clock sweep at the approved end date); at most
`MAX_SUSPENSION_DAYS` calendar days in all per assignment unless a supervisor approves more.

Suspended time is not overdue time: while the clock stands the completion deadline is the one
it would have if the clock ran again on the end date, and when it runs again the deadline is the
one before the stop moved by the time actually suspended (working days over the calendar for a
clock of working days, calendar time for a clock of hours), so the sweep's warnings, overdue
marks, `overdue_now` and on-time completion never count suspended time. The assignment's open
delegated steps (下派) stand and move with it: their deadlines still ahead at the stop, each by
its own clock's unit, never past the assignment's (`_stop_delegated`, `_run_delegated`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from sqlalchemy.orm import Session

from dispatch.core.errors import Conflict, InvalidInput
from dispatch.core.models import Assignment, Delegation, Suspension, Ticket
from dispatch.core.vocab import AssignmentStatus, Role
from dispatch.core.vocab import DelegationStatus as DS
from dispatch.tickets.calendar import LOCAL_TZ, calendar_year
from dispatch.tickets.clocks import add_working_days, warning_time
from dispatch.tickets.delegation_warnings import arm, clocks_of
from dispatch.tickets.lifecycle.assignments import (
    assignment_payload,
    own_assignment,
    pending_request,
    rearm_completion_clock,
)
from dispatch.tickets.lifecycle.context import Context, Step
from dispatch.tickets.lifecycle.table import SAME

MAX_SUSPENSION_DAYS = 30
DAY = timedelta(days=1)


def resume_time(day: date) -> datetime:
    """When a suspension until `day` ends: 00:00 Asia/Shanghai of that day."""
    return datetime.combine(day, time(0, 0), tzinfo=LOCAL_TZ)


def calendar_days(start: datetime, end: datetime) -> int:
    """Calendar days of a suspension from `start` to `end`, a begun day counting whole."""
    return max(0, math.ceil((end - start) / DAY))


def days_used(ticket: Ticket, a: Assignment, now: datetime) -> int:
    """Calendar days this assignment's clock has stood or stands approved to stand: the
    ended suspensions as they ran, the active one to its end date."""
    used = 0
    for s in ticket.suspensions:
        if s.assignment_id != a.id or s.decided_at is None:
            continue
        if s.status == "ended" and s.ended_at is not None:
            used += calendar_days(s.decided_at, s.ended_at)
        elif s.status == "active":
            used += calendar_days(s.decided_at, s.until)
    return used


def suspension_refusal(ticket: Ticket, a: Assignment, now: datetime) -> str | None:
    """Why this assignment may not ask for a suspension now, None when it may: signed for and
    in hand, its completion clock running and not yet run out, no request pending, days left.
    The one rule behind the refusal of `request_suspend` and the ticket's `actions` offer."""
    if a.status != AssignmentStatus.SIGNED or a.closed_at is not None:
        return "只有已签收、正在办理的派单才能申请挂起"
    if a.suspended_until is not None:
        return "此派单已挂起；恢复后才能再次申请"
    if now >= a.complete_deadline:
        return "办结时限已过；挂起须在时限届满前申请"
    if any(s.status == "pending" and s.assignment_id == a.id for s in ticket.suspensions):
        return "此派单已有一个待审批的挂起申请"
    if days_used(ticket, a, now) >= MAX_SUSPENSION_DAYS:
        return f"此派单已挂起累计 {MAX_SUSPENSION_DAYS} 天，已达上限"
    return None


def _check_until(day: date, start: datetime, used: int, *, supervisor: bool) -> datetime:
    until = resume_time(day)
    if until <= start:
        raise InvalidInput(f"until: 恢复日期须晚于今天（收到 {day.isoformat()}）",
                           field="until")
    total = used + calendar_days(start, until)
    if total > MAX_SUSPENSION_DAYS and not supervisor:
        raise InvalidInput(
            f"until: 挂起累计不能超过 {MAX_SUSPENSION_DAYS} 天（已挂起 {used} 天，至 "
            f"{day.isoformat()} 共 {total} 天）；超过须经督办员批准", field="until")
    return until


def working_days_between(session: Session, start: datetime, end: datetime) -> int:
    """Working days among the local dates from `start`'s to the day before `end`'s."""
    day, last = start.astimezone(LOCAL_TZ).date(), end.astimezone(LOCAL_TZ).date()
    found = 0
    while day < last:
        working, _ = calendar_year(session, day.year).get(day, (day.weekday() < 5, ""))
        found += 1 if working else 0
        day += DAY
    return found


def moved_deadline(session: Session, a: Assignment, deadline: datetime, start: datetime,
                   end: datetime) -> tuple[datetime, bool]:
    """`deadline` moved by the time the clock stood from `start` to `end` (and whether a
    provisional calendar year decided it)."""
    if end <= start:
        return deadline, False
    if (a.complete_limit or {}).get("unit") != "working_days":
        return deadline + (end - start), False
    days = working_days_between(session, start, end)
    if days == 0:
        return deadline, False
    moved = add_working_days(session, deadline, days)
    return moved.at, moved.provisional


def _pending(c: Context) -> Suspension:
    return pending_request(c.ticket, c.ticket.suspensions, c.payload.suspension_id,
                           field="suspension_id", noun="挂起申请")


def _request_suspend(c: Context) -> Step:
    a, p = own_assignment(c), c.payload
    refusal = suspension_refusal(c.ticket, a, c.now)
    if refusal is not None:
        raise Conflict(refusal)
    until = _check_until(p.until, c.now, days_used(c.ticket, a, c.now), supervisor=False)
    s = Suspension(ticket=c.ticket, assignment_id=a.id, status="pending", reason=p.reason,
                   until=until, requested_at=c.now, requested_by_id=c.actor.id)
    c.session.add(s)
    c.session.flush()
    return Step(SAME, {**assignment_payload(a), "suspension_id": s.id,
                       "until": p.until.isoformat()})


def _approve_suspend(c: Context) -> Step:
    s, p = _pending(c), c.payload
    a = c.session.get(Assignment, s.assignment_id)
    assert a is not None
    if a.status != AssignmentStatus.SIGNED or a.closed_at is not None:
        raise Conflict(f"{a.department_code} 的派单已不在办理中（已办结、已退单或已撤销），"
                       "不能挂起")
    if c.now >= a.complete_deadline:
        raise Conflict("办结时限已过，不能再挂起；请驳回此申请")
    day = p.until or s.until.astimezone(LOCAL_TZ).date()
    until = _check_until(day, c.now, days_used(c.ticket, a, c.now),
                         supervisor=c.actor.role == Role.SUPERVISOR)
    planned, provisional = moved_deadline(c.session, a, a.complete_deadline, c.now, until)
    s.status, s.decided_at, s.decided_by_id = "active", c.now, c.actor.id
    s.decision_reason, s.until = p.reason, until
    s.old_deadline, s.old_warn_at = a.complete_deadline, a.complete_warn_at
    a.suspended_until = until
    # While the clock stands: the deadline it has if it runs again on the end date, no
    # warning before that day.
    a.complete_deadline = planned
    a.complete_warn_at = max(until, warning_time(a.dispatched_at, planned,
                                                 c.limits.warning_ratio))
    a.deadline_provisional = a.deadline_provisional or provisional
    rearm_completion_clock(a)
    _stop_delegated(c, a, c.now, until)
    return Step(SAME, {**assignment_payload(a), "suspension_id": s.id,
                       "until": day.isoformat(), "old_deadline": s.old_deadline.isoformat(),
                       "planned_deadline": planned.isoformat()})


def _refuse_suspend(c: Context) -> Step:
    s = _pending(c)
    s.status, s.decided_at, s.decided_by_id = "refused", c.now, c.actor.id
    s.decision_reason = c.payload.reason
    return Step(SAME, {"suspension_id": s.id, "assignment_id": s.assignment_id})


def end_suspension(c: Context, a: Assignment, at: datetime) -> Suspension | None:
    """Let the assignment's stopped clock run again from `at`: the deadline before the stop
    moved by the time it stood. None when its clock was not stopped."""
    s = next((x for x in c.ticket.suspensions
              if x.assignment_id == a.id and x.status == "active"), None)
    if s is None:
        return None
    start = s.decided_at or at
    if s.old_deadline is not None and a.closed_at is None:
        new, provisional = moved_deadline(c.session, a, s.old_deadline, start, at)
        a.complete_deadline = new
        a.complete_warn_at = warning_time(a.dispatched_at, new, c.limits.warning_ratio)
        a.deadline_provisional = a.deadline_provisional or provisional
        rearm_completion_clock(a)
        s.new_deadline = new
    _run_delegated(c, a, start, at)
    s.status, s.ended_at = "ended", at
    a.suspended_until = None
    return s


# ---------------------------------------------------------------- the delegated steps' clocks


def _moved_step_deadline(c: Context, a: Assignment, deadline: datetime, start: datetime,
                         end: datetime, *, sign: bool) -> datetime:
    """A delegated step's deadline moved by the time the clock stood: its sign-for clock by
    the unit of the sign-for limit, its completion clock as the assignment's."""
    if not sign:
        return moved_deadline(c.session, a, deadline, start, end)[0]
    if c.limits.sign_limit(c.ticket.urgency).unit != "working_days" or end <= start:
        return deadline + max(end - start, timedelta(0))
    days = working_days_between(c.session, start, end)
    return add_working_days(c.session, deadline, days).at if days else deadline


def stop_new_step(c: Context, a: Assignment, d: Delegation) -> None:
    """A step delegated while its assignment's clock stands stands with it, from now until
    the end date (its deadlines then move by the time it stood since it was delegated)."""
    if a.suspended_until is not None:
        _stop_delegated(c, a, c.now, a.suspended_until, [d])


def _stop_delegated(c: Context, a: Assignment, start: datetime, until: datetime,
                    only: list[Delegation] | None = None) -> None:
    """The assignment's clock stands (挂起): so do its open delegated steps' (or `only`
    these). Each deadline still ahead becomes the one it has if it runs again on the end date
    (never past the assignment's), kept as it was in the step's clock row; no warning before
    the end date."""
    ratio = c.limits.warning_ratio
    steps = [d for d in (c.ticket.delegations if only is None else only)
             if d.assignment_id == a.id
             and d.closed_at is None and d.status in (DS.DISPATCHED, DS.SIGNED)]
    clocks = clocks_of(c.session, [d.id for d in steps])
    for d in steps:
        clock = clocks.get(d.id) or arm(c.session, d, ratio)
        if d.status == DS.DISPATCHED and d.sign_deadline > start:
            clock.stopped_sign_deadline = d.sign_deadline
            d.sign_deadline = _moved_step_deadline(c, a, d.sign_deadline, start, until, sign=True)
            clock.sign_warn_at = max(until, warning_time(d.delegated_at, d.sign_deadline, ratio))
            clock.sign_warned_at = None
        if d.complete_deadline > start:
            clock.stopped_complete_deadline = d.complete_deadline
            d.complete_deadline = min(a.complete_deadline, _moved_step_deadline(
                c, a, d.complete_deadline, start, until, sign=False))
            clock.complete_warn_at = max(until, warning_time(d.delegated_at,
                                                             d.complete_deadline, ratio))
            clock.complete_warned_at = None


def _run_delegated(c: Context, a: Assignment, start: datetime, end: datetime) -> None:
    """The assignment's clock runs again at `end`: each delegated step's clock stopped at
    `start` (or when the step was delegated, if later) gets its deadline from before the stop
    moved by the time it stood (never past the assignment's), a new warning time, and its
    warning and overdue marks cleared."""
    ratio = c.limits.warning_ratio
    steps = [d for d in c.ticket.delegations if d.assignment_id == a.id]
    clocks = clocks_of(c.session, [d.id for d in steps])
    for d in steps:
        clock = clocks.get(d.id)
        if clock is None:
            continue
        sign, complete = clock.stopped_sign_deadline, clock.stopped_complete_deadline
        clock.stopped_sign_deadline = clock.stopped_complete_deadline = None
        if d.closed_at is not None:
            continue
        stood_from = max(start, d.delegated_at)
        if sign is not None and d.status == DS.DISPATCHED:
            d.sign_deadline = _moved_step_deadline(c, a, sign, stood_from, end, sign=True)
            clock.sign_warn_at = warning_time(d.delegated_at, d.sign_deadline, ratio)
            clock.sign_warned_at = d.sign_overdue_at = None
        if complete is not None:
            d.complete_deadline = min(a.complete_deadline, _moved_step_deadline(
                c, a, complete, stood_from, end, sign=False))
            clock.complete_warn_at = warning_time(d.delegated_at, d.complete_deadline, ratio)
            clock.complete_warned_at = d.complete_overdue_at = None


def _resume(c: Context) -> Step:
    if c.actor.role == Role.SYSTEM:
        # The clock sweep: every suspension of the ticket whose end date has come, from then.
        due = [x for x in c.ticket.suspensions if x.status == "active" and x.until <= c.now]
        if not due:
            raise Conflict(f"工单 {c.ticket.number} 没有到期的挂起")
        ended = []
        for x in due:
            held = c.session.get(Assignment, x.assignment_id)
            assert held is not None
            end_suspension(c, held, x.until)
            ended.append({**assignment_payload(held), "suspension_id": x.id,
                          "new_deadline": held.complete_deadline.isoformat()})
        return Step(SAME, {"suspensions": ended, "automatic": True})
    a = own_assignment(c)
    s = end_suspension(c, a, min(c.now, a.suspended_until or c.now))
    if s is None:
        raise Conflict(f"工单 {c.ticket.number} 的派单没有挂起，无需恢复")
    return Step(SAME, {**assignment_payload(a), "suspension_id": s.id,
                       "new_deadline": a.complete_deadline.isoformat()})


# action → its handler (the suspension part of the state table)
SUSPENSION_HANDLERS: dict[str, Callable[[Context], Step]] = {
    "request_suspend": _request_suspend,
    "approve_suspend": _approve_suspend,
    "refuse_suspend": _refuse_suspend,
    "resume": _resume,
}


SUSPENSION_ACTIONS = frozenset(SUSPENSION_HANDLERS)


def suspension_offered(action: str, ticket: Ticket, held: Assignment | None,
                       now: datetime) -> bool:
    """Whether a page offers this suspension action now (the table allowed it for the role
    and state; `perform` still decides, with the payload): a request when `request_suspend`
    would not refuse it, a decision while one is pending, a resume while the clock stands."""
    if action == "request_suspend":
        return held is not None and suspension_refusal(ticket, held, now) is None
    if action in ("approve_suspend", "refuse_suspend"):
        return any(s.status == "pending" for s in ticket.suspensions)
    return held is not None and held.suspended_until is not None  # resume
