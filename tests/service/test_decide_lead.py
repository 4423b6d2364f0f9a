"""会商定责 (DOMAIN.md "Grid governance"): a ticket whose lead was returned twice, or by two
departments, lands in the hotline office's queue; the office may ask the departments' opinions
(notes), then decides the lead with a reason: the event carries exactly {"lead", "reason",
"unfounded"} (the monthly assessment reads it), the decision is final, the ticket goes to the
lead. Refusals write nothing."""

from __future__ import annotations

from dispatch.core.errors import Conflict, Forbidden, InvalidInput
from dispatch.tickets.clocks import get_time_limits
from dispatch.tickets.lifecycle import available_actions
from dispatch.tickets.lifecycle.dispute import dispute_queue

URBAN = "urban_management"
PUDONG = "street_pudong"


def bounced(desk, second: str = PUDONG):
    """Returned by 城管局, re-routed to `second`, returned again."""
    t = desk.intake()
    desk.act(t, "dispatch", "dispatcher1", lead=URBAN)
    desk.act(t, "return", "handler1", reason="属街道职责")
    desk.act(t, "dispatch", "dispatcher1", lead=second)
    user = "handler1" if second == URBAN else "street1"
    r = desk.act(t, "return", user, reason="属城管职责")
    return t, r


def offered(desk, t, user: str) -> list[str]:
    desk.session.refresh(t)
    return available_actions(t, desk.actors[user], desk.clock.now(),
                             get_time_limits(desk.session))


def test_a_ticket_returned_by_two_departments_lands_in_the_queue(desk):
    t = desk.intake()
    desk.act(t, "dispatch", "dispatcher1", lead=URBAN)
    desk.act(t, "return", "handler1", reason="属街道职责")
    desk.session.refresh(t)
    assert t.disputed_at is None and dispute_queue(desk.session) == []
    assert "decide_lead" not in offered(desk, t, "dispatcher1")
    desk.act(t, "dispatch", "dispatcher1", lead=PUDONG)
    r = desk.act(t, "return", "street1", reason="属城管职责")
    assert r.events[0].payload["disputed"] is True
    assert [x.number for x in dispute_queue(desk.session)] == [t.number]
    assert "decide_lead" in offered(desk, t, "dispatcher1")
    assert "decide_lead" in offered(desk, t, "supervisor1")


def test_returned_twice_by_one_department_is_disputed_too(desk):
    t, r = bounced(desk, second=URBAN)
    assert r.events[0].payload.get("disputed") is True


def test_decide_lead_records_the_shape_routes_and_is_final(desk):
    t, _ = bounced(desk)
    # The office asks the departments' opinions in the ticket (they can see it).
    desk.act(t, "note", "dispatcher1", text="请城管局、蒲东街道说明意见")
    desk.act(t, "note", "street1", text="占道经营执法属城管")
    r = desk.act(t, "decide_lead", "supervisor1", lead=URBAN, reason="占道经营执法属城管职责")
    (e,) = r.events
    assert e.action == "decide_lead" and (e.from_status, e.to_status) == ("RETURNED",
                                                                         "DISPATCHED")
    assert e.payload == {"lead": URBAN, "reason": "占道经营执法属城管职责",
                         "unfounded": [URBAN]}
    desk.session.refresh(t)
    assert t.disputed_at is None and dispute_queue(desk.session) == []
    lead = desk.assignments(t)[-1]
    assert (lead.department_code, lead.role, lead.status) == (URBAN, "lead", "dispatched")
    assert lead.sign_deadline > desk.clock.now()
    desk.act(t, "sign", "handler1")
    e = desk.refused(t, "return", "handler1", Conflict, reason="仍不属本局")
    assert "定责" in e.message


def test_the_office_may_name_the_unfounded_returns(desk):
    t, _ = bounced(desk)
    r = desk.act(t, "decide_lead", "dispatcher1", lead=URBAN, reason="共同认定",
                 unfounded=[URBAN, PUDONG])
    assert r.events[0].payload["unfounded"] == [URBAN, PUDONG]


def test_refused_decisions_write_nothing(desk):
    t, _ = bounced(desk)
    assert desk.refused(t, "decide_lead", "dispatcher1", InvalidInput, lead="nowhere",
                        reason="x").field == "lead"
    assert desk.refused(t, "decide_lead", "dispatcher1", InvalidInput, lead=URBAN,
                        reason="x", unfounded=["transport"]).field == "unfounded"
    desk.refused(t, "decide_lead", "dispatcher1", InvalidInput, lead=URBAN)  # no reason
    for user in ("operator1", "handler1", "leader1"):
        desk.refused(t, "decide_lead", user, Forbidden, lead=URBAN, reason="x")
    once = desk.intake()
    desk.act(once, "dispatch", "dispatcher1", lead=URBAN)
    desk.act(once, "return", "handler1", reason="不属本局")
    desk.refused(once, "decide_lead", "dispatcher1", Conflict, lead=URBAN, reason="x")
    assert len(dispute_queue(desk.session)) == 1
