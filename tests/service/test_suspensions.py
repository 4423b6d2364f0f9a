"""Suspension (挂起, DOMAIN.md "Grid governance"): an assignee asks to stop its completion clock
until a date, a dispatcher approves or refuses, the clock stands until resumed (by the
assignee, or by the clock sweep at the end date); at most 30 calendar days in all unless a
supervisor approves more; suspended time is not overdue time (deadline, sweep, overdue_now,
on-time completion). Every refusal names its field and writes nothing."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from dispatch import subscribers
from dispatch.core.errors import Conflict, InvalidInput
from dispatch.core.models import Event, Suspension
from dispatch.stats import rollups
from dispatch.stats.metrics import RAW, DateRange, Filters, summary
from dispatch.tickets.calendar import LOCAL_TZ
from dispatch.tickets.clocks import get_time_limits
from dispatch.tickets.lifecycle import available_actions
from dispatch.tickets.sweeps import sweep_clocks


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


def end_of(y: int, m: int, d: int) -> datetime:
    return local(y, m, d, 23, 59, 59)


def suspensions(desk) -> list[Suspension]:
    desk.session.expire_all()
    return list(desk.session.scalars(select(Suspension).order_by(Suspension.id)))


def offered(desk, t, user: str) -> list[str]:
    return available_actions(t, desk.actors[user], desk.clock.now(),
                             get_time_limits(desk.session))


SUSPENSION_ACTIONS = {"request_suspend", "approve_suspend", "refuse_suspend", "resume"}


def test_request_approve_resume_moves_the_deadline_by_the_working_days_it_stood(desk):
    t = desk.signed()  # Mon 23 Nov 10:00; a complaint: due Wed 2 Dec
    assert desk.assignments(t)[0].complete_deadline == end_of(2026, 12, 2)
    assert SUSPENSION_ACTIONS & set(offered(desk, t, "handler1")) == {"request_suspend"}
    assert SUSPENSION_ACTIONS & set(offered(desk, t, "dispatcher1")) == set()

    r = desk.act(t, "request_suspend", "handler1", reason="等待法院判决", until="2026-11-30")
    (s,) = suspensions(desk)
    lead = desk.assignments(t)[0]
    assert (s.status, s.assignment_id, s.reason) == ("pending", lead.id, "等待法院判决")
    assert s.until == local(2026, 11, 30)
    assert r.events[0].payload["suspension_id"] == s.id
    assert (r.events[0].from_status, r.events[0].to_status) == ("SIGNED", "SIGNED")
    assert lead.suspended_until is None  # the clock runs until a dispatcher approves
    assert SUSPENSION_ACTIONS & set(offered(desk, t, "handler1")) == set()
    assert SUSPENSION_ACTIONS & set(offered(desk, t, "dispatcher1")) == {
        "approve_suspend", "refuse_suspend"}

    desk.act(t, "approve_suspend", "dispatcher1", reason="同意")
    (s,) = suspensions(desk)
    lead = desk.assignments(t)[0]
    assert s.status == "active" and s.decided_by_id == desk.uid("dispatcher1")
    assert lead.suspended_until == local(2026, 11, 30)
    # While it stands: the deadline as if the clock ran again on Mon 30 (Mon 23 – Fri 27
    # stood: 5 working days after Wed 2 Dec), and no warning before the end date.
    assert lead.complete_deadline == end_of(2026, 12, 9)
    assert lead.complete_warn_at >= local(2026, 11, 30)
    assert SUSPENSION_ACTIONS & set(offered(desk, t, "handler1")) == {"resume"}
    assert "request_extension" not in offered(desk, t, "handler1")

    desk.clock.current = local(2026, 11, 25, 9, 0)  # Wed: the documents came
    r = desk.act(t, "resume", "handler1")
    (s,) = suspensions(desk)
    lead = desk.assignments(t)[0]
    assert (s.status, s.ended_at) == ("ended", local(2026, 11, 25, 9, 0))
    assert lead.suspended_until is None
    # Mon 23 and Tue 24 stood: Wed 2 Dec + 2 working days.
    assert lead.complete_deadline == end_of(2026, 12, 4)
    assert s.new_deadline == lead.complete_deadline
    assert datetime.fromisoformat(r.events[0].payload["new_deadline"]) == lead.complete_deadline

    desk.clock.current = local(2026, 12, 3, 15, 0)  # after the first deadline, before the new
    r = desk.act(t, "complete", "handler1", result="已按判决处理")
    assert r.events[0].payload["on_time"] is True


def test_the_sweep_resumes_at_the_end_date_and_no_overdue_fires_for_suspended_time(desk):
    t = desk.signed()
    desk.act(t, "request_suspend", "handler1", reason="雨季无法施工", until="2026-12-07")
    desk.act(t, "approve_suspend", "dispatcher1")
    # Mon 23 Nov – Sun 6 Dec stood: 10 working days after Wed 2 Dec → Wed 16 Dec.
    assert desk.assignments(t)[0].complete_deadline == end_of(2026, 12, 16)

    desk.clock.current = local(2026, 12, 3, 10, 0)  # past the first deadline
    report = sweep_clocks(desk.session, desk.clock.now(), directory=desk.directory)
    assert report.fired == () and report.events == ()
    assert suspensions(desk)[0].status == "active"

    desk.clock.current = local(2026, 12, 7, 8, 30)
    report = sweep_clocks(desk.session, desk.clock.now(), directory=desk.directory)
    resumed = [e for e in report.events if e.action == "resume"]
    assert [e.number for e in resumed] == [t.number]
    (s,) = suspensions(desk)
    assert (s.status, s.ended_at) == ("ended", local(2026, 12, 7))
    lead = desk.assignments(t)[0]
    assert lead.suspended_until is None and lead.complete_overdue_at is None
    assert lead.complete_deadline == end_of(2026, 12, 16)
    event = desk.session.scalars(select(Event).where(Event.action == "resume")).one()
    assert event.actor_id is None and event.payload["automatic"] is True
    # Once only.
    again = sweep_clocks(desk.session, desk.clock.now(), directory=desk.directory)
    assert again.events == ()


def test_overdue_now_does_not_count_a_suspended_clock(desk, clock):
    was = subscribers.running("statistics")
    subscribers.resume("statistics")
    try:
        t = desk.signed()
        desk.act(t, "request_suspend", "handler1", reason="等待鉴定", until="2026-12-10")
        desk.act(t, "approve_suspend", "dispatcher1")
        clock.current = local(2026, 12, 4, 10, 0)  # past the first deadline, still suspended
        span, now = DateRange(date(2026, 11, 23), date(2026, 11, 23)), clock.now()
        rollups.refresh(desk.session)
        rolled = summary(desk.session, span, Filters(), now)
        raw = summary(desk.session, span, Filters(), now, source=RAW)
        assert rolled.tally == raw.tally
        assert rolled.figures["overdue_now"].numerator == 0
    finally:
        if not was:
            subscribers.pause("statistics")


def test_completing_a_suspended_ticket_ends_the_suspension_and_counts_it_on_time(desk):
    t = desk.signed()
    desk.act(t, "request_suspend", "handler1", reason="等待市民补交材料", until="2026-12-20")
    desk.act(t, "approve_suspend", "dispatcher1")
    desk.clock.current = local(2026, 12, 8, 10, 0)  # after Wed 2 Dec; 11 working days stood
    r = desk.act(t, "complete", "handler1", result="材料已补齐，已办结")
    assert r.events[0].payload["on_time"] is True
    (s,) = suspensions(desk)
    assert s.status == "ended" and desk.assignments(t)[0].suspended_until is None


def test_refused_request_keeps_the_clock_running(desk):
    t = desk.signed()
    before = desk.assignments(t)[0].complete_deadline
    desk.act(t, "request_suspend", "handler1", reason="天气原因", until="2026-11-28")
    r = desk.act(t, "refuse_suspend", "dispatcher1", reason="可先行处置")
    (s,) = suspensions(desk)
    assert (s.status, s.decision_reason) == ("refused", "可先行处置")
    assert desk.assignments(t)[0].complete_deadline == before
    assert r.events[0].reason == "可先行处置"
    desk.refused(t, "approve_suspend", "dispatcher1", Conflict)


@pytest.mark.parametrize("payload, field", [
    ({"until": "2026-11-30"}, "reason"),
    ({"reason": "  ", "until": "2026-11-30"}, "reason"),
    ({"reason": "等待判决"}, "until"),
    ({"reason": "等待判决", "until": "2026-11-23"}, "until"),  # today: not after today
    ({"reason": "等待判决", "until": "2026-11-01"}, "until"),
    ({"reason": "等待判决", "until": "下周一"}, "until"),
    ({"reason": "等待判决", "until": "2026-12-24"}, "until"),  # 31 days
])
def test_bad_requests_name_their_field_and_write_nothing(desk, payload, field):
    t = desk.signed()
    err = desk.refused(t, "request_suspend", "handler1", InvalidInput, **payload)
    assert err.field == field
    assert suspensions(desk) == []


def test_resuming_a_ticket_not_suspended_is_refused(desk):
    t = desk.signed()
    err = desk.refused(t, "resume", "handler1", Conflict)
    assert "没有挂起" in err.message
    desk.act(t, "request_suspend", "handler1", reason="等待判决", until="2026-11-30")
    desk.refused(t, "resume", "handler1", Conflict)  # pending is not suspended
    assert [s.status for s in suspensions(desk)] == ["pending"]


def test_only_a_signed_assignment_may_ask_and_only_once_at_a_time(desk):
    t = desk.dispatched()
    desk.refused(t, "request_suspend", "handler1", Conflict, reason="等待", until="2026-11-30")
    desk.act(t, "sign", "handler1")
    desk.act(t, "request_suspend", "handler1", reason="等待判决", until="2026-11-30")
    err = desk.refused(t, "request_suspend", "handler1", Conflict, reason="再等",
                       until="2026-11-29")
    assert "待审批" in err.message
    assert len(suspensions(desk)) == 1


def test_beyond_thirty_days_in_all_only_a_supervisor_approves(desk):
    t = desk.signed()  # Mon 23 Nov 10:00
    desk.act(t, "request_suspend", "handler1", reason="等待判决", until="2026-12-13")  # 20 days
    desk.act(t, "approve_suspend", "dispatcher1")
    desk.clock.current = local(2026, 12, 13, 9, 0)
    desk.act(t, "resume", "handler1")  # the clock ran again at 00:00 on the 13th
    assert suspensions(desk)[0].ended_at == local(2026, 12, 13)

    # A second one of 15 days: 35 in all.
    err = desk.refused(t, "request_suspend", "handler1", InvalidInput, reason="二审",
                       until="2026-12-28")
    assert err.field == "until" and "30" in err.message
    assert len(suspensions(desk)) == 1

    desk.act(t, "request_suspend", "handler1", reason="二审", until="2026-12-20")  # 27 days
    # Another end date past 30 days in all: not by a dispatcher, by a supervisor.
    err = desk.refused(t, "approve_suspend", "dispatcher1", InvalidInput, until="2026-12-30")
    assert err.field == "until"
    assert suspensions(desk)[1].status == "pending"
    desk.act(t, "approve_suspend", "supervisor1", until="2026-12-30", reason="案情复杂，同意")
    s = suspensions(desk)[1]
    assert (s.status, s.until) == ("active", local(2026, 12, 30))
    assert desk.assignments(t)[0].suspended_until == local(2026, 12, 30)
