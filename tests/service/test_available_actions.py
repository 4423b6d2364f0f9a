"""The actions a page offers: what the state table allows this user on this ticket now."""

from __future__ import annotations

from dispatch.tickets.lifecycle import available_actions


def test_a_new_ticket_offers_the_dispatcher_dispatch_and_the_handler_nothing_to_sign(desk):
    t = desk.intake()
    offered = available_actions(t, desk.actors["dispatcher1"])
    assert {"dispatch", "merge", "void", "transfer_110", "supervise", "note"} <= set(offered)
    assert not {"sign", "complete", "review_accept", "approve_extension"} & set(offered)
    assert available_actions(t, desk.actors["leader1"]) == ["note"]


def test_the_assignee_is_offered_sign_then_complete_and_extension_decisions_only_when_asked(desk):
    t = desk.dispatched()
    handler, dispatcher = desk.actors["handler1"], desk.actors["dispatcher1"]
    assert {"sign", "return", "request_extension"} <= set(available_actions(t, handler))
    assert "complete" not in available_actions(t, handler)
    assert "sign" not in available_actions(t, desk.actors["street1"])  # not their assignment
    desk.act(t, "sign", "handler1")
    assert "complete" in available_actions(t, handler)
    assert "sign" not in available_actions(t, handler)
    assert "approve_extension" not in available_actions(t, dispatcher)
    desk.act(t, "request_extension", "handler1", days=2, reason="需协调多个部门")
    assert {"approve_extension", "refuse_extension"} <= set(available_actions(t, dispatcher))
