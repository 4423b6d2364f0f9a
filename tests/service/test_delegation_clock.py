"""The delegated steps' own clocks (下派, DOMAIN.md "Grid governance"): a step unsigned after its
sign-for deadline, or not completed after its completion deadline, is urged once by the clock
sweep (an `urge` event naming the village or grid worker and the clock, an SMS to the holder, a
mark); never before the deadline, never twice, never for a completed or closed step or a
suspended assignment. Time moves by the manual clock."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from dispatch.core.models import Delegation, Event, Ticket, User
from dispatch.core.vocab import Status
from dispatch.outbound.outbox import OutboxMessage
from dispatch.tickets.clock_steps import SMS_MAX
from dispatch.tickets.lifecycle import TABLE
from dispatch.tickets.sweeps import SweepReport, sweep_clocks

from .test_delegation import VILLAGE, delegations, levels, street_signed  # noqa: F401

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


def test_sign_overdue_fires_once_past_the_deadline_to_the_village(phones):
    desk = phones
    t = street_signed(desk)
    desk.act(t, "delegate", "street1", to=VILLAGE)
    (d,) = delegations(desk)
    assert sweep(desk, d.sign_deadline).delegation_urges == 0  # at the deadline: not yet
    assert urges(desk, t) == [] and sms(desk) == []

    report = sweep(desk, d.sign_deadline + MINUTE)
    assert report.delegation_urges == 1
    (e,) = urges(desk, t)
    assert e.payload["delegation"] == d.id and e.payload["clock_step"] == "sign_overdue"
    assert e.actor_role == "system" and "张庄村村委会" in e.reason and "签收" in e.reason
    assert a_path_of_the_table(e)
    assert e.id in {p.event_id for p in report.events}
    (m,) = sms(desk)
    assert m.payload["to"] == VILLAGE_PHONE and t.number in m.payload["text"]
    assert "签收" in m.payload["text"] and len(m.payload["text"]) <= SMS_MAX
    (d,) = delegations(desk)
    assert d.sign_overdue_at == d.sign_deadline + MINUTE and d.complete_overdue_at is None

    # Signed late, still not completed after its completion deadline: that clock fires once.
    desk.act(t, "sign", "village1")
    sweep(desk, d.complete_deadline + MINUTE)
    e1, e2 = urges(desk, t)
    assert e2.payload["clock_step"] == "complete_overdue" and "办理" in e2.reason
    assert a_path_of_the_table(e2)
    assert [m.payload["to"] for m in sms(desk)] == [VILLAGE_PHONE, VILLAGE_PHONE]
    assert delegations(desk)[0].complete_overdue_at == d.complete_deadline + MINUTE


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
    late = max(d.complete_deadline for d in delegations(desk)) + MINUTE
    assert late < datetime(2026, 12, 10, tzinfo=late.tzinfo)  # the suspension still stands

    report = sweep(desk, late)
    assert report.delegation_urges == 0
    assert [urges(desk, t) for t in (done, returned, suspended)] == [[], [], []]
    assert sms(desk) == []
    assert all(d.sign_overdue_at is None and d.complete_overdue_at is None
               for d in delegations(desk))
    assert desk.session.scalar(select(Delegation.id).where(
        Delegation.sign_overdue_at.is_not(None))) is None
