"""The actions a page offers: what the state table allows this user on this ticket now, and no
extension the server would refuse (the same predicate as the refusal)."""

from __future__ import annotations

from datetime import timedelta

from dispatch.core.errors import Conflict
from dispatch.tickets.clocks import get_time_limits
from dispatch.tickets.lifecycle import available_actions


def offered(desk, t, user: str) -> list[str]:
    return available_actions(t, desk.actors[user], desk.clock.now(),
                             get_time_limits(desk.session))


def test_a_new_ticket_offers_the_dispatcher_dispatch_and_the_handler_nothing_to_sign(desk):
    t = desk.intake()
    assert {"dispatch", "merge", "void", "transfer_110", "supervise", "note"} <= set(
        offered(desk, t, "dispatcher1"))
    assert not {"sign", "complete", "review_accept", "approve_extension"} & set(
        offered(desk, t, "dispatcher1"))
    assert offered(desk, t, "leader1") == ["note"]


def test_the_assignee_is_offered_sign_then_complete_and_extension_decisions_only_when_asked(desk):
    t = desk.dispatched()
    assert {"sign", "return", "request_extension"} <= set(offered(desk, t, "handler1"))
    assert "complete" not in offered(desk, t, "handler1")
    assert "sign" not in offered(desk, t, "street1")  # not their assignment
    desk.act(t, "sign", "handler1")
    assert "complete" in offered(desk, t, "handler1")
    assert "sign" not in offered(desk, t, "handler1")
    assert "approve_extension" not in offered(desk, t, "dispatcher1")
    desk.act(t, "request_extension", "handler1", days=2, reason="需协调多个部门")
    assert {"approve_extension", "refuse_extension"} <= set(offered(desk, t, "dispatcher1"))
    # One pending at a time: not offered again, and refused if asked.
    assert "request_extension" not in offered(desk, t, "handler1")


def test_no_extension_is_offered_past_the_completion_deadline_where_it_is_refused(desk):
    t = desk.dispatched()
    desk.act(t, "sign", "handler1")
    (a,) = desk.assignments(t)
    desk.clock.current = a.complete_deadline - timedelta(minutes=1)
    assert "request_extension" in offered(desk, t, "handler1")  # still in time
    desk.clock.current = a.complete_deadline
    assert "request_extension" not in offered(desk, t, "handler1")
    assert {"complete", "return"} <= set(offered(desk, t, "handler1"))  # the rest stays
    error = desk.refused(t, "request_extension", "handler1", Conflict, days=2, reason="来不及")
    assert "办结时限已过" in str(error)
    assert t.extensions == []
