"""The delegated steps' own clocks (下派, DOMAIN.md "Grid governance"): each clock warns once at
its warning time (预警), and a step unsigned after its sign-for deadline, or not completed after
its completion deadline, is urged once by the clock sweep (an `urge` event naming the village or
grid worker and the clock, an SMS to the holder, a mark); never before its time, never twice,
never for a completed or closed step or a suspended assignment. A suspension (挂起) stops the
steps' clocks and moves their deadlines by the time it stood (suspended time is not overdue
time), resumed by the holder or by the sweep at the end date. Time moves by the manual clock."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from dispatch.core.errors import Conflict, InvalidInput
from dispatch.core.models import Delegation, Event, Ticket, User
from dispatch.core.vocab import Status
from dispatch.outbound.outbox import OutboxMessage
from dispatch.tickets.calendar import LOCAL_TZ
from dispatch.tickets.clock_steps import SMS_MAX
from dispatch.tickets.clocks import add_working_days, get_time_limits
from dispatch.tickets.delegation_warnings import DelegationClock
from dispatch.tickets.lifecycle import TABLE
from dispatch.tickets.readmodel import ticket_view
from dispatch.tickets.sweeps import SweepReport, sweep_clocks

from .test_delegation import (  # noqa: F401
    OTHER_VILLAGE,
    VILLAGE,
    delegations,
    levels,
    street_signed,
)

VILLAGE_PHONE = "13900000021"
WORKER_PHONE = "13900000022"
MINUTE = timedelta(minutes=1)


@pytest.fixture
def phones(levels):  # noqa: F811
    """The village handler and the village's grid worker have phones."""
    s = levels.session
    for name, phone in (("village1", VILLAGE_PHONE), ("gw_village", WORKER_PHONE)):
        s.scalars(select(User).where(User.username == name)).one().phone = phone
    s.commit()
    return levels


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


def warning_clock(desk, d: Delegation) -> DelegationClock:
    desk.session.expire_all()
    clock = desk.session.get(DelegationClock, d.id)
    assert clock is not None
    return clock


def clock_row(desk, d: Delegation) -> tuple:
    c = warning_clock(desk, d)
    return (c.sign_warn_at, c.sign_warned_at, c.complete_warn_at, c.complete_warned_at,
            c.stopped_sign_deadline, c.stopped_complete_deadline)


def sweep(desk, now: datetime) -> SweepReport:
    """Sweep at `now`, then again: the second finds nothing of the delegated steps."""
    desk.clock.current = now
    report = sweep_clocks(desk.session, now, directory=desk.directory)
    assert report.failed_tickets == ()
    again = sweep_clocks(desk.session, now, directory=desk.directory)
    assert again.delegation_urges == 0
    assert not [e for e in again.events if e.action == "urge"]
    return report


def urges(desk, t: Ticket) -> list[Event]:
    return [e for e in desk.events(t) if e.action == "urge" and "delegation" in e.payload]


def sms(desk) -> list[OutboxMessage]:
    return [m for m in desk.session.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == "sms.notice")
        .order_by(OutboxMessage.id)) if "delegation" in m.payload]


def a_path_of_the_table(e: Event) -> bool:
    rule = TABLE[e.action]
    return (e.actor_role in rule.roles and Status(e.from_status) in rule.from_states
            and e.to_status == e.from_status)


def test_each_clock_warns_once_then_is_urged_once_past_its_deadline_to_the_village(phones):
    desk = phones
    t = street_signed(desk)
    desk.act(t, "delegate", "street1", to=VILLAGE)
    (d,) = delegations(desk)
    clock = warning_clock(desk, d)
    ratio = get_time_limits(desk.session).warning_ratio
    assert clock.sign_warn_at == d.delegated_at + (d.sign_deadline - d.delegated_at) * ratio
    assert clock.complete_warn_at == \
        d.delegated_at + (d.complete_deadline - d.delegated_at) * ratio
    assert sweep(desk, clock.sign_warn_at - MINUTE).delegation_urges == 0  # not yet
    assert urges(desk, t) == [] and sms(desk) == []

    # 预警: its warning time has come.
    assert sweep(desk, clock.sign_warn_at).delegation_urges == 1
    (w,) = urges(desk, t)
    assert w.payload["delegation"] == d.id and w.payload["clock_step"] == "sign_warning"
    assert "张庄村村委会" in w.reason and "即将超过签收时限" in w.reason
    assert w.actor_role == "system" and a_path_of_the_table(w)
    (m,) = sms(desk)
    assert m.payload["to"] == VILLAGE_PHONE and "即将超过签收时限" in m.payload["text"]
    assert t.number in m.payload["text"] and len(m.payload["text"]) <= SMS_MAX
    assert warning_clock(desk, d).sign_warned_at == clock.sign_warn_at
    assert sweep(desk, d.sign_deadline).delegation_urges == 0  # at the deadline: not yet

    report = sweep(desk, d.sign_deadline + MINUTE)
    assert report.delegation_urges == 1
    _, e = urges(desk, t)
    assert e.payload["delegation"] == d.id and e.payload["clock_step"] == "sign_overdue"
    assert e.actor_role == "system" and "张庄村村委会" in e.reason and "签收" in e.reason
    assert a_path_of_the_table(e)
    assert e.id in {p.event_id for p in report.events}
    _, m = sms(desk)
    assert m.payload["to"] == VILLAGE_PHONE and t.number in m.payload["text"]
    assert "已超过签收时限" in m.payload["text"] and len(m.payload["text"]) <= SMS_MAX
    (d,) = delegations(desk)
    assert d.sign_overdue_at == d.sign_deadline + MINUTE and d.complete_overdue_at is None

    # Signed late, still not completed: the completion clock warns once, then is urged once.
    desk.act(t, "sign", "village1")
    sweep(desk, clock.complete_warn_at)
    sweep(desk, d.complete_deadline + MINUTE)
    steps = [x.payload["clock_step"] for x in urges(desk, t)]
    assert steps == ["sign_warning", "sign_overdue", "complete_warning", "complete_overdue"]
    *_, w2, e2 = urges(desk, t)
    assert "即将超过办理时限" in w2.reason and "办理" in e2.reason
    assert a_path_of_the_table(w2) and a_path_of_the_table(e2)
    assert [m.payload["to"] for m in sms(desk)] == [VILLAGE_PHONE] * 4
    assert "即将超过办理时限" in sms(desk)[2].payload["text"]
    assert delegations(desk)[0].complete_overdue_at == d.complete_deadline + MINUTE


def test_a_warning_not_sent_before_the_deadline_passed_is_marked_not_sent(phones):
    desk = phones
    t = street_signed(desk)
    desk.act(t, "delegate", "street1", to=VILLAGE)
    (d,) = delegations(desk)
    sweep(desk, d.sign_deadline + MINUTE)  # the sweep was down at the warning time
    assert [e.payload["clock_step"] for e in urges(desk, t)] == ["sign_overdue"]
    assert warning_clock(desk, d).sign_warned_at == d.sign_deadline + MINUTE
    assert len(sms(desk)) == 1


@pytest.mark.parametrize("worker_phone", [WORKER_PHONE, None])
def test_a_grid_workers_step_texts_the_worker_else_its_villages_handlers(phones, worker_phone):
    desk = phones
    s = desk.session
    s.scalars(select(User).where(User.username == "gw_village")).one().phone = worker_phone
    s.commit()
    t = street_signed(desk)
    desk.act(t, "delegate", "street1", to="gw_village")
    desk.act(t, "sign", "gw_village")
    (d,) = delegations(desk)
    sweep(desk, d.complete_deadline + MINUTE)
    (e,) = urges(desk, t)  # signed: only the completion clock
    assert e.payload["clock_step"] == "complete_overdue"
    assert "网格员gw_village" in e.reason
    (m,) = sms(desk)
    assert m.payload["to"] == (worker_phone or VILLAGE_PHONE)


def test_no_urge_for_a_completed_or_returned_step_or_a_suspended_assignment(phones):
    desk = phones
    done = street_signed(desk)
    desk.act(done, "delegate", "street1", to=VILLAGE)
    desk.act(done, "sign", "village1")
    desk.act(done, "complete", "village1", result="已处理")  # awaits the street's review
    returned = street_signed(desk)
    desk.act(returned, "delegate", "street1", to=VILLAGE)
    desk.act(returned, "return", "village1", reason="不属于本村")
    suspended = street_signed(desk)
    desk.act(suspended, "delegate", "street1", to=VILLAGE)
    desk.act(suspended, "request_suspend", "street1", reason="等待法院判决",
             until="2026-12-10")
    desk.act(suspended, "approve_suspend", "dispatcher1", reason="同意")
    # The clocks that stopped owing a warning are marked (out of the sweep's indexes): the
    # sign-for clock once signed for, both once closed; a completion awaiting review is not.
    clocks = {d.ticket_id: warning_clock(desk, d) for d in delegations(desk)}
    assert clocks[done.id].sign_warned_at is not None
    assert clocks[done.id].complete_warned_at is None
    assert clocks[returned.id].sign_warned_at is not None
    assert clocks[returned.id].complete_warned_at is not None
    assert clocks[suspended.id].sign_warned_at is None
    late = max(d.complete_deadline for d in delegations(desk)
               if d.ticket_id != suspended.id) + MINUTE
    assert late < datetime(2026, 12, 10, tzinfo=late.tzinfo)  # the suspension still stands

    report = sweep(desk, late)
    assert report.delegation_urges == 0
    assert [urges(desk, t) for t in (done, returned, suspended)] == [[], [], []]
    assert sms(desk) == []
    assert all(d.sign_overdue_at is None and d.complete_overdue_at is None
               for d in delegations(desk))
    assert desk.session.scalar(select(Delegation.id).where(
        Delegation.sign_overdue_at.is_not(None))) is None


# ---------------------------------------------------------------- suspension (挂起)


def test_a_suspension_stops_the_delegated_steps_clocks_and_moves_their_deadlines(phones):
    desk = phones
    t = street_signed(desk)  # Mon 23 Nov 10:00
    desk.act(t, "delegate", "street1", to=VILLAGE)
    (d,) = delegations(desk)
    sign0, complete0 = d.sign_deadline, d.complete_deadline
    desk.clock.advance(hours=1)
    desk.act(t, "request_suspend", "street1", reason="等待法院判决", until="2026-11-26")
    desk.act(t, "approve_suspend", "dispatcher1", reason="同意")
    stopped, until = desk.clock.now(), local(2026, 11, 26)
    (d,) = delegations(desk)
    # While the clock stands: the deadlines it has if it runs again on the end date.
    assert d.sign_deadline == sign0 + (until - stopped)  # a sign-for limit of hours
    assert complete0 < d.complete_deadline == desk.assignments(t)[0].complete_deadline
    clock = warning_clock(desk, d)
    assert (clock.stopped_sign_deadline, clock.stopped_complete_deadline) == (sign0, complete0)
    assert clock.sign_warn_at >= until and clock.complete_warn_at >= until
    # The village's view of its step: the warning times, and its clock standing until then.
    (seen,) = ticket_view(desk.session, t, desk.actors["village1"], desk.directory,
                          desk.clock.now())["delegations"]
    assert datetime.fromisoformat(seen["suspended_until"]) == until
    assert datetime.fromisoformat(seen["sign_warn_at"]) == clock.sign_warn_at
    # Nothing fires while it stands, past the old deadlines too.
    assert sweep(desk, sign0 + MINUTE).delegation_urges == 0

    # The street office resumes on Wed 25 at 10:00: the step's clocks stood 47 hours, two
    # working days (Mon, Tue) for the completion clock.
    desk.clock.current = local(2026, 11, 25, 10)
    desk.act(t, "resume", "street1")
    (d,) = delegations(desk)
    stood = desk.clock.now() - stopped
    assert d.sign_deadline == sign0 + stood
    moved = add_working_days(desk.session, complete0, 2).at
    assert d.complete_deadline == moved == desk.assignments(t)[0].complete_deadline
    clock = warning_clock(desk, d)
    assert clock.stopped_sign_deadline is None and clock.stopped_complete_deadline is None
    (seen,) = ticket_view(desk.session, t, desk.actors["village1"], desk.directory,
                          desk.clock.now())["delegations"]
    assert seen["suspended_until"] is None
    assert datetime.fromisoformat(seen["complete_warn_at"]) == clock.complete_warn_at
    ratio = get_time_limits(desk.session).warning_ratio
    assert clock.sign_warn_at == d.delegated_at + (d.sign_deadline - d.delegated_at) * ratio
    # Suspended time is not overdue time: past the old deadline, nothing; the warning and the
    # overdue urge come by the moved clock.
    assert sweep(desk, desk.clock.now() + MINUTE).delegation_urges == 0
    sweep(desk, clock.sign_warn_at)
    sweep(desk, d.sign_deadline)
    sweep(desk, d.sign_deadline + MINUTE)
    assert [e.payload["clock_step"] for e in urges(desk, t)] == ["sign_warning", "sign_overdue"]
    assert delegations(desk)[0].sign_overdue_at == d.sign_deadline + MINUTE


def test_a_step_delegated_while_the_clock_stands_stands_with_it_from_its_delegation(phones):
    desk = phones
    t = street_signed(desk)  # Mon 23 Nov 10:00
    desk.act(t, "request_suspend", "street1", reason="等待法院判决", until="2026-11-26")
    desk.act(t, "approve_suspend", "dispatcher1", reason="同意")
    until = local(2026, 11, 26)
    desk.clock.advance(hours=5)  # delegated five hours into the suspension
    delegated = desk.clock.now()
    desk.act(t, "delegate", "street1", to=VILLAGE)
    (d,) = delegations(desk)
    clock = warning_clock(desk, d)
    sign0, complete0 = clock.stopped_sign_deadline, clock.stopped_complete_deadline
    assert sign0 is not None and complete0 is not None  # its clocks stand from the start
    assert d.sign_deadline == sign0 + (until - delegated)  # as if it ran again on the end date
    assert d.complete_deadline <= desk.assignments(t)[0].complete_deadline
    assert clock.sign_warn_at >= until and clock.complete_warn_at >= until
    assert sweep(desk, sign0 + MINUTE).delegation_urges == 0  # nothing while it stands

    # Resumed on Wed 25 at 10:00: the step stood since it was delegated, not since the stop.
    desk.clock.current = local(2026, 11, 25, 10)
    desk.act(t, "resume", "street1")
    (d,) = delegations(desk)
    assert d.sign_deadline == sign0 + (desk.clock.now() - delegated)
    assert warning_clock(desk, d).stopped_sign_deadline is None


def test_the_sweep_runs_the_delegated_clocks_again_at_the_end_date(phones):
    desk = phones
    t = street_signed(desk)
    desk.act(t, "delegate", "street1", to=VILLAGE)
    desk.act(t, "sign", "village1")  # only the completion clock runs
    (d,) = delegations(desk)
    complete0 = d.complete_deadline
    desk.act(t, "request_suspend", "street1", reason="等待市民补充材料", until="2026-11-26")
    desk.act(t, "approve_suspend", "dispatcher1", reason="同意")
    (d,) = delegations(desk)
    planned = d.complete_deadline
    assert warning_clock(desk, d).stopped_sign_deadline is None  # signed: not stopped
    report = sweep(desk, local(2026, 11, 26, 0, 1))
    assert "resume" in {e.action for e in report.events}
    (d,) = delegations(desk)
    # It ran again at 00:00 on the end date: the deadline planned at the stop stands.
    assert d.complete_deadline == planned > complete0
    assert warning_clock(desk, d).stopped_complete_deadline is None
    assert report.delegation_urges == 0


def test_refused_delegations_and_resumes_leave_the_step_clocks_alone(phones):
    desk = phones
    t = street_signed(desk)
    desk.refused(t, "delegate", "street1", InvalidInput, to=OTHER_VILLAGE)
    assert desk.count(DelegationClock) == 0
    desk.act(t, "delegate", "street1", to=VILLAGE)
    (d,) = delegations(desk)
    before = (d.sign_deadline, d.complete_deadline, clock_row(desk, d))
    desk.refused(t, "resume", "street1", Conflict)  # not suspended
    (d,) = delegations(desk)
    assert (d.sign_deadline, d.complete_deadline, clock_row(desk, d)) == before
    assert desk.count(DelegationClock) == 1
