"""What a clock step is and when it is due: the steps of the sign-for and completion clocks
and of supervision, the SMS and urge texts each step writes, and the conditions (on the
assignment row, matching the partial clock indexes) that make a step due now. The sweep that
fires them is `dispatch.tickets.sweeps`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from dispatch.core.models import Assignment, CalendarDay, User
from dispatch.core.vocab import AssignmentStatus, Role
from dispatch.tickets.calendar import LOCAL_TZ, ensure_years
from dispatch.tickets.clocks import end_of_local_day

SMS_SIGN = "长垣12345"
SMS_MAX = 70  # one Chinese SMS segment, signature included
HANDLING = (AssignmentStatus.DISPATCHED, AssignmentStatus.SIGNED)


class Step(StrEnum):
    """One step of a clock."""

    SIGN_WARNING = "sign_warning"
    SIGN_OVERDUE = "sign_overdue"
    COMPLETE_WARNING = "complete_warning"
    COMPLETE_OVERDUE = "complete_overdue"
    SUPERVISION = "supervision"


@dataclass(frozen=True)
class Fired:
    """A step that fired: which assignment (and delegated step of it, if any), on which
    ticket, and when."""

    assignment_id: int
    ticket_id: int
    ticket_number: str
    step: Step
    at: datetime
    delegation_id: int | None = None


# ---------------------------------------------------------------- texts


def when_text(at: datetime) -> str:
    """A deadline as an SMS names it, in local time: 11月24日10:00."""
    local = at.astimezone(LOCAL_TZ)
    return f"{local.month}月{local.day}日{local:%H:%M}"


def notice_text(step: Step, ticket_number: str, deadline: datetime, *,
                delegated: bool = False) -> str:
    """The SMS to the assignee for a clock step, or to the holder of a delegated step (下派)
    (one segment, ≤ 70 characters)."""
    head = f"【{SMS_SIGN}】{'下派工单' if delegated else '工单'}{ticket_number}"
    when = when_text(deadline)
    texts = {
        Step.SIGN_WARNING: f"{head}即将超过签收时限，请于{when}前签收。",
        Step.SIGN_OVERDUE: f"{head}已超过签收时限（{when}），请立即签收。",
        Step.COMPLETE_WARNING: f"{head}即将超过办理时限，请于{when}前办结。",
        Step.COMPLETE_OVERDUE: f"{head}已超过办理时限（{when}），请立即办理。",
        Step.SUPERVISION: f"{head}超期已列入督办，请于{when}前办结并反馈。",
    }
    return texts[step]


def urge_reason(step: Step, ratio: float) -> str:
    return {
        Step.SIGN_WARNING: f"签收时限已过{ratio:.0%}，自动催办",
        Step.SIGN_OVERDUE: "已超过签收时限，自动催办",
        Step.COMPLETE_WARNING: f"办理时限已过{ratio:.0%}，自动催办",
        Step.COMPLETE_OVERDUE: "已超过办理时限，自动催办",
    }[step]


# ---------------------------------------------------------------- what is due


def escalation_cutoff(session: Session, now: datetime, days: int) -> datetime:
    """Completion deadlines before this instant are overdue by more than `days` working days
    at `now`: past the end of the `days`-th working day after the deadline's local day."""
    today = now.astimezone(LOCAL_TZ).date()
    # The N-th working day after the deadline's day must have ended: before today, or today
    # itself in the last fraction of a second after 23:59:59.
    first_open = today + timedelta(days=1) if now > end_of_local_day(today) else today
    ensure_years(session, (first_open.year - 1, first_open.year))  # days ≤ 60: < a year back
    back = session.scalars(
        select(CalendarDay.day).where(CalendarDay.day < first_open,
                                      CalendarDay.working.is_(True))
        .order_by(CalendarDay.day.desc()).limit(days)
    ).all()
    # Deadline day D qualifies iff ≥ N working days lie in (D, first_open), i.e. D < back[-1].
    return datetime.combine(back[-1], time(0), tzinfo=LOCAL_TZ)


def _sign_due(now: datetime) -> ColumnElement[bool]:
    a = Assignment
    return and_(a.status == AssignmentStatus.DISPATCHED, a.sign_overdue_at.is_(None),
                a.sign_warn_at <= now,
                or_(a.sign_warned_at.is_(None), a.sign_deadline < now))


def _complete_due(now: datetime, cutoff: datetime) -> ColumnElement[bool]:
    a = Assignment
    return and_(a.status.in_(HANDLING), a.escalated_at.is_(None), a.complete_warn_at <= now,
                or_(a.complete_warned_at.is_(None),
                    and_(a.complete_overdue_at.is_(None), a.complete_deadline < now),
                    a.complete_deadline < cutoff))


def due_now(now: datetime, cutoff: datetime) -> ColumnElement[bool]:
    return and_(Assignment.closed_at.is_(None), or_(_sign_due(now), _complete_due(now, cutoff)))


# mark column → whether it keeps a time already there (a warning mark set by an earlier sweep)
Marks = dict[str, bool]


def steps_due(a: Assignment, now: datetime, cutoff: datetime) -> tuple[list[Step], Marks]:
    """The steps due now and the marks they set. A warning not yet fired when its deadline has
    already passed (the sweep was down) is marked but not sent: an overdue urge says more."""
    steps: list[Step] = []
    marks: Marks = {}
    if a.status == AssignmentStatus.DISPATCHED and a.sign_overdue_at is None:
        if a.sign_deadline < now:
            marks.update(sign_warned_at=True, sign_overdue_at=False)
            steps.append(Step.SIGN_OVERDUE)
        elif a.sign_warned_at is None and a.sign_warn_at <= now:
            marks["sign_warned_at"] = False
            steps.append(Step.SIGN_WARNING)
    if a.status in HANDLING and a.escalated_at is None:
        if a.complete_deadline < now and a.complete_overdue_at is None:
            marks.update(complete_warned_at=True, complete_overdue_at=False)
            steps.append(Step.COMPLETE_OVERDUE)
        elif a.complete_warned_at is None and a.complete_warn_at <= now:
            marks["complete_warned_at"] = False
            steps.append(Step.COMPLETE_WARNING)
        if a.complete_deadline < cutoff:
            # Marked even when the ticket is already supervised, so the check runs once.
            marks["escalated_at"] = False
            steps.append(Step.SUPERVISION)
    return steps, marks


def handler_phones(session: Session, departments: set[str]) -> dict[str, list[tuple[int, str]]]:
    """The active handlers with a phone of each department (user id, phone), oldest first: who
    a clock step's SMS goes to when no grid worker holds the step."""
    phones: dict[str, list[tuple[int, str]]] = {d: [] for d in departments}
    if departments:
        for uid, dept, phone in session.execute(
                select(User.id, User.department_code, User.phone)
                .where(User.role == Role.HANDLER, User.department_code.in_(departments),
                       User.active.is_(True), User.phone.is_not(None), User.phone != "")
                .order_by(User.id)):
            phones[dept].append((uid, phone))
    return phones
