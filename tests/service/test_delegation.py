"""Delegation (下派, 层级派单; DOMAIN.md "Grid governance"): the street office that holds a signed
assignment delegates to one of its villages or grid workers, a village on to a grid worker; the
one below signs for and completes within its own clocks (inside the assignment's); the one
above reviews (村受理·镇审核) and only then is the assignment completed for the hotline; a return
goes one level up. Each level sees its own and its children's tickets. Every refusal writes
nothing."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from dispatch.core.accounts import actor_for
from dispatch.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from dispatch.core.models import Delegation, Ticket, User
from dispatch.tickets.access import can_see, visible_tickets
from dispatch.tickets.calendar import LOCAL_TZ
from dispatch.tickets.clocks import get_time_limits
from dispatch.tickets.lifecycle import available_actions
from grid.models import Department

PUDONG = "street_pudong"
VILLAGE = "street_pudong_c001"
OTHER_VILLAGE = "street_puxi_c001"


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


@pytest.fixture
def levels(desk):
    """Two villages (one under 蒲东, one under 蒲西), a village handler and two grid workers:
    one of the village, one of another street."""
    s = desk.session
    s.add(Department(code=VILLAGE, name="张庄村村委会", kind="territorial",
                     street_code=PUDONG, parent_code=PUDONG, active=True))
    s.add(Department(code=OTHER_VILLAGE, name="李庄村村委会", kind="territorial",
                     street_code="street_puxi", parent_code="street_puxi", active=True))
    s.flush()
    for name, role, dept in (("village1", "handler", VILLAGE),
                             ("village2", "handler", OTHER_VILLAGE),
                             ("gw_village", "grid_worker", VILLAGE),
                             ("gw_puxi", "grid_worker", "street_puxi")):
        s.add(User(username=name, display_name=name, role=role, department_code=dept,
                   password_hash="x", demo=True))
    s.commit()
    for u in s.scalars(select(User)):
        desk.actors[u.username] = actor_for(u)
    return desk


def street_signed(desk) -> Ticket:
    """A complaint dispatched to 蒲东街道 and signed for by street1 (Mon 23 Nov 10:00)."""
    t = desk.intake()
    desk.act(t, "dispatch", "dispatcher1", lead=PUDONG)
    desk.act(t, "sign", "street1")
    return t


def delegations(desk) -> list[Delegation]:
    desk.session.expire_all()
    return list(desk.session.scalars(select(Delegation).order_by(Delegation.id)))


def offered(desk, t, user: str) -> set[str]:
    desk.session.refresh(t)
    return set(available_actions(t, desk.actors[user], desk.clock.now(),
                                 get_time_limits(desk.session)))


GOVERNANCE = {"delegate", "review_delegated_accept", "review_delegated_reject", "sign",
              "complete", "return"}


def test_street_delegates_to_its_village_which_completes_and_the_street_reviews(levels):
    desk = levels
    t = street_signed(desk)
    assert GOVERNANCE & offered(desk, t, "street1") == {"delegate", "complete", "return"}
    r = desk.act(t, "delegate", "street1", to=VILLAGE)
    (d,) = delegations(desk)
    a = desk.assignments(t)[0]
    assert (d.status, d.from_department_code, d.department_code, d.assignment_id) == (
        "dispatched", PUDONG, VILLAGE, a.id)
    assert r.events[0].payload["to"] == VILLAGE and r.events[0].to_status == "SIGNED"
    # Its own clocks, inside the assignment's: signed within 24 h, done by the assignment's.
    assert d.sign_deadline == local(2026, 11, 24, 10, 0)
    assert d.complete_deadline <= a.complete_deadline
    # The street holds it but may not complete it while it is delegated.
    assert GOVERNANCE & offered(desk, t, "street1") == {"return"}
    desk.refused(t, "complete", "street1", Conflict, result="已处理")
    assert GOVERNANCE & offered(desk, t, "village1") == {"sign", "return"}

    desk.act(t, "sign", "village1")
    assert delegations(desk)[0].status == "signed"
    desk.act(t, "complete", "village1", result="已劝离占道摊贩")
    (d,) = delegations(desk)
    assert d.status == "completed" and d.result == "已劝离占道摊贩"
    desk.session.refresh(t)
    assert t.status == "SIGNED"  # not completed for the hotline before the street's review
    assert desk.assignments(t)[0].status == "signed"
    assert GOVERNANCE & offered(desk, t, "street1") == {
        "review_delegated_accept", "review_delegated_reject", "return"}

    desk.act(t, "review_delegated_reject", "street1", reason="照片不清楚，请补充")
    assert delegations(desk)[0].status == "signed"
    desk.act(t, "complete", "village1", result="已劝离，补充照片")
    r = desk.act(t, "review_delegated_accept", "street1")
    (d,) = delegations(desk)
    assert d.status == "accepted" and d.closed_at is not None
    desk.session.refresh(t)
    a = desk.assignments(t)[0]
    assert (t.status, a.status, a.result) == ("COMPLETED", "completed", "已劝离，补充照片")
    assert r.events[0].payload["completes_assignment"] == a.id


def test_village_delegates_on_to_a_grid_worker_and_each_level_reviews(levels):
    desk = levels
    t = street_signed(desk)
    desk.act(t, "delegate", "street1", to=VILLAGE)
    desk.act(t, "sign", "village1")
    desk.act(t, "delegate", "village1", to="gw_village")
    top, low = delegations(desk)
    assert (low.parent_id, low.from_department_code, low.grid_worker_id) == (
        top.id, VILLAGE, desk.uid("gw_village"))
    assert low.complete_deadline <= top.complete_deadline
    desk.refused(t, "complete", "village1", Conflict, result="已处理")
    desk.act(t, "sign", "gw_village")
    desk.act(t, "complete", "gw_village", result="现场已清理")
    assert GOVERNANCE & offered(desk, t, "street1") == {"return"}  # the village reviews first
    desk.act(t, "review_delegated_accept", "village1")
    top, low = delegations(desk)
    assert (low.status, top.status, top.result) == ("accepted", "completed", "现场已清理")
    desk.session.refresh(t)
    assert t.status == "SIGNED"
    desk.act(t, "review_delegated_accept", "street1")
    desk.session.refresh(t)
    assert t.status == "COMPLETED"


def test_a_return_goes_one_level_up_not_to_the_hotline(levels):
    desk = levels
    t = street_signed(desk)
    desk.act(t, "delegate", "street1", to=VILLAGE)
    desk.act(t, "sign", "village1")
    desk.act(t, "delegate", "village1", to="gw_village")
    desk.act(t, "return", "gw_village", reason="不在本网格")
    top, low = delegations(desk)
    assert (low.status, top.status) == ("returned", "signed")  # back with the village
    desk.act(t, "return", "village1", reason="应由街道城管中队处理")
    top, _ = delegations(desk)
    assert top.status == "returned"
    desk.session.refresh(t)
    assert t.status == "SIGNED" and desk.assignments(t)[0].status == "signed"
    # The street has it in hand again: it may complete it itself or delegate again.
    assert {"delegate", "complete"} <= offered(desk, t, "street1")
    desk.act(t, "complete", "street1", result="街道已处理")
    desk.session.refresh(t)
    assert t.status == "COMPLETED"


def test_the_street_returning_to_the_hotline_cancels_what_it_delegated(levels):
    desk = levels
    t = street_signed(desk)
    desk.act(t, "delegate", "street1", to=VILLAGE)
    desk.act(t, "return", "street1", reason="属职能部门职责")
    (d,) = delegations(desk)
    desk.session.refresh(t)
    assert (t.status, d.status) == ("RETURNED", "cancelled")


def test_delegating_outside_ones_subtree_is_refused_and_writes_nothing(levels):
    desk = levels
    t = street_signed(desk)
    for to in (OTHER_VILLAGE, "gw_puxi", "urban_management", "nobody", "handler1"):
        e = desk.refused(t, "delegate", "street1", InvalidInput, to=to)
        assert e.field == "to"
    # Not a holder of the assignment: the functional bureau, the village, other roles.
    desk.refused(t, "delegate", "dispatcher1", Forbidden, to=VILLAGE)
    desk.refused(t, "delegate", "village1", NotFound, to="gw_village")  # cannot even see it
    assert delegations(desk) == []


def test_delegating_before_signing_or_twice_is_refused(levels):
    desk = levels
    t = desk.intake()
    desk.act(t, "dispatch", "dispatcher1", lead=PUDONG)
    desk.refused(t, "delegate", "street1", Conflict, to=VILLAGE)
    desk.act(t, "sign", "street1")
    desk.act(t, "delegate", "street1", to=VILLAGE)
    desk.refused(t, "delegate", "street1", Conflict, to="gw_village")
    # The village must sign before it passes it on; the review needs a completion.
    desk.refused(t, "delegate", "village1", Conflict, to="gw_village")
    desk.refused(t, "review_delegated_accept", "street1", Conflict)
    desk.refused(t, "review_delegated_reject", "village1", Forbidden, reason="不合格")
    assert len(delegations(desk)) == 1


def test_each_level_sees_its_own_and_its_childrens_tickets(levels):
    desk = levels
    mine = street_signed(desk)
    other = desk.intake()
    desk.act(other, "dispatch", "dispatcher1", lead=PUDONG)
    direct = desk.intake()  # dispatched straight to the village: the street sees it too
    desk.act(direct, "dispatch", "dispatcher1", lead=VILLAGE)
    desk.act(mine, "delegate", "street1", to=VILLAGE)
    desk.act(mine, "sign", "village1")
    desk.act(mine, "delegate", "village1", to="gw_village")

    def seen(user: str) -> set[str]:
        actor = desk.actors[user]
        listed = set(desk.session.scalars(select(Ticket.number).where(visible_tickets(actor))))
        for t in (mine, other, direct):  # the one rule, read in SQL and in Python alike
            assert can_see(desk.session, actor, t) == (t.number in listed)
        return listed

    assert seen("street1") >= {mine.number, other.number, direct.number}
    assert seen("village1") == {mine.number, direct.number}
    assert seen("gw_village") == {mine.number}
    assert seen("village2") == set()
    assert mine.number not in seen("handler1")
