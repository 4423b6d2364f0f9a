"""Calls in the domain (DOMAIN.md, Calls): events folded into call records whatever their
order, the same event twice changing nothing, an unknown extension kept, the missed-call
deadlines by day and by night, callback tries, scoping, agent states and the call metrics."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from dispatch.calls.access import get_call
from dispatch.calls.board import board, call_metrics
from dispatch.calls.events import CallReport, missed_deadline, record_event
from dispatch.calls.intake import intake_call
from dispatch.calls.missed import CallQuery, find_calls, log_callback_attempt
from dispatch.calls.models import AgentState, Call, CallbackAttempt, CallEvent
from dispatch.calls.pop import messages
from dispatch.core.errors import Conflict, InvalidInput, NotFound
from dispatch.core.models import Contact
from tests.conftest import START
from tests.service.conftest import demand

T0 = START  # Monday 2026-11-23 10:00 in Asia/Shanghai


def report(event: str, call_id: str = "C1", at: datetime = T0, **fields) -> CallReport:
    return CallReport(event=event, call_id=call_id, at=at, **fields)


def ring(session, call_id="C1", at=T0, agent="8001", caller="13800138000"):
    return record_event(session, report("ringing", call_id, at, caller=caller, agent=agent,
                                        queue="12345", callee="12345"), at)


def test_a_call_lives_through_its_events(session):
    ring(session)
    record_event(session, report("answered", at=T0 + timedelta(seconds=9), wait_s=9), T0)
    r = record_event(session, report("hangup", at=T0 + timedelta(seconds=129)), T0)
    record_event(session, report("recording", recording_url="http://cc/r/C1.wav"), T0)
    session.commit()
    call = r.call
    assert (call.state, call.wait_s, call.duration_s) == ("ended", 9, 120)
    assert call.recording_url == "http://cc/r/C1.wav"
    assert call.agent_user_id is not None and not call.unknown_agent
    assert call.missed_deadline is None
    assert session.get(AgentState, "8001").state == "wrap_up"


def test_the_same_event_twice_changes_nothing(session):
    first = ring(session)
    session.commit()
    again = ring(session, at=T0 + timedelta(seconds=5), agent="9999")
    session.commit()
    assert first.new and first.rings and not again.new and not again.rings
    assert again.call.agent_extension == "8001" and again.call.rang_at == T0
    assert session.scalar(select(func.count()).select_from(CallEvent)) == 1
    assert messages(session, again, T0) == []


def test_a_hangup_before_its_answered_event_is_reconciled(session):
    ring(session)
    r = record_event(session, report("hangup", at=T0 + timedelta(seconds=70)), T0)
    assert r.call.state == "ended" and r.call.duration_s is None
    r = record_event(session, report("answered", at=T0 + timedelta(seconds=10)), T0)
    session.commit()
    assert (r.call.state, r.call.wait_s, r.call.duration_s) == ("ended", 10, 60)
    # The later event in the call's life (the hangup) decides the agent's state.
    assert session.get(AgentState, "8001").state == "wrap_up"


def test_an_event_for_an_unknown_extension_is_kept_and_listed(session, actors):
    r = ring(session, agent="7777")
    session.commit()
    assert r.call.unknown_agent and r.call.agent_user_id is None
    assert messages(session, r, T0) == []  # nobody to pop it to…
    page = find_calls(session, actors["dispatcher1"], CallQuery(state="unknown_agent"), T0)
    assert [c.call_id for c in page.items] == ["C1"]  # …but dispatchers see it
    assert board(session, T0)["unknown_extension_calls"][0]["agent"] == "7777"


@pytest.mark.parametrize(("local_hour", "expected_local"), [
    (10, (23, 12)), (19, (23, 21)), (21, (24, 10)), (3, (23, 10)), (8, (23, 10))])
def test_missed_call_deadlines_by_day_and_by_night(local_hour, expected_local):
    missed = datetime(2026, 11, 23, local_hour, tzinfo=UTC) - timedelta(hours=8)
    day, hour = expected_local
    assert missed_deadline(missed) == datetime(2026, 11, day, hour, tzinfo=UTC) - timedelta(hours=8)


def test_an_abandoned_call_is_owed_a_callback_until_one_reaches_the_caller(session, actors):
    night = T0 + timedelta(hours=12)  # 22:00 local
    ring(session, "C2", at=night, agent=None)
    r = record_event(session, report("abandoned", "C2", night + timedelta(seconds=40),
                                     wait_s=40), night)
    session.commit()
    assert r.call.state == "abandoned"
    assert r.call.missed_deadline == T0 + timedelta(days=1)  # 10:00 the next day
    contact = session.get(Contact, r.call.contact_id)
    assert (contact.kind, contact.phone, contact.external_id) == ("hang_up", "13800138000", "C2")
    operator = actors["operator1"]
    page = find_calls(session, operator, CallQuery(state="missed"), night)
    assert [c.call_id for c in page.items] == ["C2"] and page.overdue == 0
    log_callback_attempt(session, "C2", {"outcome": "no_answer"}, operator, night)
    later = T0 + timedelta(days=1, hours=1)
    assert find_calls(session, operator, CallQuery(state="missed"), later).overdue == 1
    call, _ = log_callback_attempt(session, "C2", {"outcome": "reached", "note": "已回复"},
                                   operator, later)
    session.commit()
    assert call.callback_tries == 2 and call.called_back_at == later
    assert find_calls(session, operator, CallQuery(state="missed"), later).total == 0
    with pytest.raises(Conflict):
        log_callback_attempt(session, "C2", {"outcome": "reached"}, operator, later)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(CallbackAttempt)) == 2
    # 漏接回拨率: called back, but after the deadline.
    rates = call_metrics(session, date(2026, 11, 24), date(2026, 11, 24), later)
    assert rates["missed_callback_rate"] == {"rate": 0.0, "called_back_in_time": 0,
                                             "missed_due": 1}


def test_a_late_answered_event_takes_the_call_out_of_the_missed_queue(session, actors):
    ring(session, agent=None)
    record_event(session, report("abandoned", at=T0 + timedelta(seconds=30)), T0)
    r = record_event(session, report("answered", at=T0 + timedelta(seconds=20)), T0)
    session.commit()
    assert r.call.state == "ended" and r.call.missed_deadline is None
    with pytest.raises(Conflict):
        log_callback_attempt(session, "C1", {"outcome": "reached"}, actors["operator1"], T0)


def test_calls_follow_the_scoping_of_tickets(session, actors, clock):
    ring(session)
    session.commit()
    handler = actors["handler1"]
    with pytest.raises(NotFound):
        get_call(session, "C1", handler)
    assert find_calls(session, handler, CallQuery(), T0).total == 0
    assert get_call(session, "C1", actors["leader1"]).call_id == "C1"


def test_a_demand_logged_during_a_call_carries_its_id(session, actors):
    ring(session)
    session.commit()
    result = intake_call(session, demand(call_id="C1"), actors["operator1"], now=T0)
    session.commit()
    call = session.scalar(select(Call).where(Call.call_id == "C1"))
    assert result.contact.external_id == "C1"
    assert (call.contact_id, call.ticket_id) == (result.contact.id, result.ticket.id)
    tickets = select(func.count()).select_from(Contact)
    before = session.scalar(tickets)
    with pytest.raises(Conflict):  # the call has its contact already
        intake_call(session, demand(call_id="C1"), actors["operator1"], now=T0)
    session.rollback()
    with pytest.raises(InvalidInput):
        intake_call(session, demand(call_id="NOPE"), actors["operator1"], now=T0)
    session.rollback()
    assert session.scalar(tickets) == before


def test_the_screen_pop_shows_history_and_open_tickets(session, actors):
    first = intake_call(session, demand(), actors["operator1"], now=T0)
    session.commit()
    r = ring(session, at=T0 + timedelta(minutes=5))
    [(room, pop)] = messages(session, r, T0)
    assert room == "agent:8001" and pop["caller"] == "13800138000"
    assert [t["number"] for t in pop["open_tickets"]] == [first.ticket.number]
    assert [t["number"] for t in pop["history"]] == [first.ticket.number]


def test_fifteen_second_answer_rate(session):
    for n, wait in enumerate((5, 15, 16)):
        ring(session, f"Q{n}")
        record_event(session, report("answered", f"Q{n}", T0 + timedelta(seconds=wait),
                                     wait_s=wait), T0)
    ring(session, "Q3")
    record_event(session, report("abandoned", "Q3", T0 + timedelta(seconds=50)), T0)
    session.commit()
    rates = call_metrics(session, date(2026, 11, 23), date(2026, 11, 23), T0)
    assert rates["answer_15s_rate"] == {"rate": 0.5, "answered_15s": 2, "entered_queue": 4}
