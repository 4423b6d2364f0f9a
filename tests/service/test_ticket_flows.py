"""The ticket lifecycle on a real database: every transition of DOMAIN.md's state table, the
events it appends, the assignment clocks it starts or stops, and the refusals that write nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from dispatch.core.errors import Conflict, Forbidden, InvalidInput, NotFound, StaleVersion
from dispatch.core.models import Extension
from dispatch.tickets.calendar import LOCAL_TZ
from dispatch.tickets.readmodel import ticket_view

PUDONG = "street_pudong"
URBAN = "urban_management"


def local(ts: datetime) -> datetime:
    return ts.astimezone(LOCAL_TZ)


def end_of(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 23, 59, 59, tzinfo=LOCAL_TZ)


# ---------------------------------------------------------------- the whole way through


def test_happy_path_with_a_co_handler_ends_archived_after_a_satisfied_callback(desk):
    t = desk.intake()
    assert (t.status, t.version) == ("NEW", 1)

    r = desk.act(t, "dispatch", "dispatcher1", lead=URBAN, co_handlers=[PUDONG])
    assert t.status == "DISPATCHED"
    lead, co = desk.assignments(t)
    assert (lead.department_code, lead.role, lead.status) == (URBAN, "lead", "dispatched")
    assert (co.department_code, co.role, co.status) == (PUDONG, "co", "dispatched")
    assert lead.dispatched_at == desk.clock.now()
    assert lead.dispatched_by_id == desk.uid("dispatcher1")
    # Sign-for: 24 h; completion of a normal complaint: 7 working days after Mon 23 Nov.
    assert lead.sign_deadline == desk.clock.now() + timedelta(hours=24)
    assert local(lead.complete_deadline) == end_of(2026, 12, 2)
    assert co.complete_deadline == lead.complete_deadline
    (dispatch_event,) = r.events
    assert (dispatch_event.from_status, dispatch_event.to_status) == ("NEW", "DISPATCHED")
    assert dispatch_event.actor_id == desk.uid("dispatcher1")
    assert dispatch_event.payload["lead"] == URBAN
    assert dispatch_event.payload["co_handlers"] == [PUDONG]
    assert dispatch_event.payload["assignment_ids"] == [lead.id, co.id]
    assert dispatch_event.payload["redispatch"] is False

    desk.clock.advance(hours=1)
    r = desk.act(t, "sign", "handler1")
    assert t.status == "SIGNED"
    assert r.events[0].from_status == "DISPATCHED" and r.events[0].to_status == "SIGNED"
    assert r.events[0].payload["role"] == "lead" and r.events[0].payload["on_time"] is True
    assert desk.assignments(t)[0].signed_at == desk.clock.now()

    r = desk.act(t, "sign", "street1")
    assert t.status == "SIGNED"  # a co-handler's sign-for moves only its own assignment
    assert (r.events[0].from_status, r.events[0].to_status) == ("SIGNED", "SIGNED")
    assert r.events[0].actor_id == desk.uid("street1")
    assert r.events[0].payload["department"] == PUDONG
    assert [a.status for a in desk.assignments(t)] == ["signed", "signed"]

    desk.clock.advance(days=1)
    r = desk.act(t, "complete", "handler1", result="摊点已清理，已告知商户")
    assert t.status == "COMPLETED"
    assert r.events[0].payload["result"] == "摊点已清理，已告知商户"
    assert desk.assignments(t)[0].result == "摊点已清理，已告知商户"

    r = desk.act(t, "review_accept", "dispatcher1")
    assert t.status == "REVIEWED"
    assert r.events[0].payload["callback_needed"] is True
    # Callback clock: 1 working day after Tue 24 Nov.
    assert local(t.callback_deadline) == end_of(2026, 11, 25)
    # The co-handler never completed: its assignment is closed with the ticket's review.
    assert [a.status for a in desk.assignments(t)] == ["completed", "cancelled"]

    r = desk.act(t, "callback", "operator1", reached=True, satisfaction="satisfied",
                 resolved=True)
    assert t.status == "ARCHIVED"
    assert t.outcome == "callback"
    assert (t.satisfaction, t.resolved) == ("satisfied", True)
    assert t.closed_at == desk.clock.now()
    history = [(e.action, e.from_status, e.to_status) for e in desk.events(t)]
    assert history == [
        ("intake", None, "NEW"),
        ("dispatch", "NEW", "DISPATCHED"),
        ("sign", "DISPATCHED", "SIGNED"),
        ("sign", "SIGNED", "SIGNED"),
        ("complete", "SIGNED", "COMPLETED"),
        ("review_accept", "COMPLETED", "REVIEWED"),
        ("callback", "REVIEWED", "ARCHIVED"),
    ]
    assert t.version == len(history)


# ---------------------------------------------------------------- returns and re-dispatch


def test_lead_return_sends_ticket_back_and_redispatch_starts_fresh_clocks(desk):
    t = desk.dispatched(co=[PUDONG])
    old_lead, old_co = desk.assignments(t)

    desk.clock.advance(hours=3)
    r = desk.act(t, "return", "handler1", reason="不属于城管职责")
    assert t.status == "RETURNED"
    (event,) = r.events
    assert (event.from_status, event.to_status, event.reason) == (
        "DISPATCHED", "RETURNED", "不属于城管职责")
    assert event.actor_id == desk.uid("handler1")
    assert event.payload == {"assignment_id": old_lead.id, "department": URBAN, "role": "lead"}
    desk.session.refresh(old_lead)
    assert old_lead.status == "returned"
    assert old_lead.return_reason == "不属于城管职责"
    assert old_lead.returned_at == desk.clock.now()

    desk.clock.advance(days=1, hours=2)  # Tue 24 Nov 15:00 local
    r = desk.act(t, "dispatch", "dispatcher1", lead="housing_construction")
    assert t.status == "DISPATCHED"
    assert r.events[0].payload["redispatch"] is True
    rows = desk.assignments(t)
    assert len(rows) == 3
    assert [(a.department_code, a.status) for a in rows[:2]] == [
        (URBAN, "returned"), (PUDONG, "cancelled")]
    assert rows[1].closed_at == desk.clock.now()
    fresh = rows[2]
    assert (fresh.department_code, fresh.role, fresh.status) == (
        "housing_construction", "lead", "dispatched")
    assert fresh.dispatched_at == desk.clock.now()
    assert fresh.sign_deadline == desk.clock.now() + timedelta(hours=24)
    assert local(fresh.complete_deadline) == end_of(2026, 12, 3)
    assert fresh.complete_deadline > old_lead.complete_deadline


def test_co_handler_return_leaves_the_ticket_state(desk):
    t = desk.dispatched(co=[PUDONG])
    r = desk.act(t, "return", "street1", reason="非本街道辖区")
    assert t.status == "DISPATCHED"
    (event,) = r.events
    assert (event.from_status, event.to_status) == ("DISPATCHED", "DISPATCHED")
    assert event.payload["role"] == "co" and event.reason == "非本街道辖区"
    assert [a.status for a in desk.assignments(t)] == ["dispatched", "returned"]
    # The lead carries on.
    desk.act(t, "sign", "handler1")
    assert t.status == "SIGNED"


def test_return_without_a_reason_is_refused(desk):
    t = desk.dispatched()
    err = desk.refused(t, "return", "handler1", InvalidInput)
    assert err.field == "reason"


def test_complete_before_sign_for_is_refused_and_changes_nothing(desk):
    t = desk.dispatched()
    err = desk.refused(t, "complete", "handler1", Conflict, result="办好了")
    assert "请先签收" in err.message
    assert t.status == "DISPATCHED"
    assert desk.assignments(t)[0].completed_at is None


def test_review_reject_sends_back_to_signed_and_the_lead_completes_again(desk):
    t = desk.completed()
    r = desk.act(t, "review_reject", "dispatcher1", reason="未附现场照片")
    assert t.status == "SIGNED"
    (event,) = r.events
    assert (event.from_status, event.to_status, event.reason) == (
        "COMPLETED", "SIGNED", "未附现场照片")
    lead = desk.assignments(t)[0]
    assert (lead.status, lead.completed_at) == ("signed", None)

    desk.clock.advance(hours=2)
    desk.act(t, "complete", "handler1", result="已补充照片")
    assert t.status == "COMPLETED"
    lead = desk.assignments(t)[0]
    assert (lead.status, lead.result, lead.completed_at) == (
        "completed", "已补充照片", desk.clock.now())


def test_dissatisfied_callback_reopens_under_supervision_and_redispatch_defaults_to_last_lead(
        desk):
    t = desk.reviewed()
    r = desk.act(t, "callback", "operator1", reached=True, satisfaction="dissatisfied",
                 resolved=False)
    assert t.status == "REOPENED"
    assert t.supervised is True
    assert t.outcome is None
    (event,) = r.events
    assert event.payload["previous_lead"] == URBAN
    assert event.payload["satisfaction"] == "dissatisfied"

    desk.clock.advance(hours=1)
    r = desk.act(t, "dispatch", "dispatcher1")  # no lead given
    assert t.status == "DISPATCHED"
    assert r.events[0].payload["lead"] == URBAN
    assert r.events[0].payload["supervised"] is True
    rows = desk.assignments(t)
    # The first round's assignment stays completed and closed; the new round is open.
    assert [(a.department_code, a.status) for a in rows] == [
        (URBAN, "completed"), (URBAN, "dispatched")]
    assert rows[0].closed_at is not None and rows[1].closed_at is None
    assert rows[0].completed_at is not None and rows[0].result == "已清理占道摊点"
    assert rows[1].dispatched_at == desk.clock.now()
    desk.act(t, "sign", "handler1")  # the new assignment, not the old one, is signed
    assert [a.status for a in desk.assignments(t)] == ["completed", "signed"]


def test_satisfied_but_unresolved_callback_also_reopens(desk):
    t = desk.reviewed()
    desk.act(t, "callback", "operator1", reached=True, satisfaction="basically_satisfied",
             resolved=False)
    assert t.status == "REOPENED"


def test_reached_callback_without_satisfaction_is_refused(desk):
    t = desk.reviewed()
    err = desk.refused(t, "callback", "operator1", InvalidInput, reached=True, resolved=True)
    assert err.field == "satisfaction"


def test_three_unreachable_callbacks_archive_as_unreachable(desk):
    t = desk.reviewed()
    for attempt in (1, 2):
        r = desk.act(t, "callback", "operator1", reached=False)
        assert t.status == "REVIEWED"
        assert t.callback_attempts == attempt
        assert (r.events[0].from_status, r.events[0].to_status) == ("REVIEWED", "REVIEWED")
        assert r.events[0].payload["attempt"] == attempt
        desk.clock.advance(hours=2)
    r = desk.act(t, "callback", "operator1", reached=False, via="sms")
    assert t.status == "ARCHIVED"
    assert t.outcome == "unreachable"
    assert t.callback_attempts == 3
    assert r.events[0].payload == {"reached": False, "attempt": 3, "via": "sms",
                                   "unreachable": True}


def test_anonymous_ticket_is_archived_at_review_without_a_callback(desk):
    t = desk.reviewed(citizen={"phone": "13800138000", "anonymous": True})
    assert t.status == "ARCHIVED"
    assert t.outcome == "no_callback"
    review, close = desk.events(t)[-2:]
    assert (review.action, review.from_status, review.to_status) == (
        "review_accept", "COMPLETED", "REVIEWED")
    assert review.payload["callback_needed"] is False
    assert (close.action, close.from_status, close.to_status) == (
        "close_without_callback", "REVIEWED", "ARCHIVED")
    assert (close.actor_id, close.actor_role) == (None, "system")
    assert t.citizen_name is None


# ---------------------------------------------------------------- extensions


def test_extension_request_and_approval_move_the_deadline_by_working_days(desk):
    t = desk.signed()
    lead = desk.assignments(t)[0]
    assert local(lead.complete_deadline) == end_of(2026, 12, 2)

    r = desk.act(t, "request_extension", "handler1", days=3, reason="需协调多部门")
    assert t.status == "SIGNED"
    (event,) = r.events
    assert (event.from_status, event.to_status) == ("SIGNED", "SIGNED")
    ext = desk.session.scalars(select(Extension)).one()
    assert (ext.status, ext.days, ext.assignment_id) == ("pending", 3, lead.id)
    assert event.payload["extension_id"] == ext.id

    r = desk.act(t, "approve_extension", "dispatcher1", reason="同意")
    desk.session.refresh(ext)
    lead = desk.assignments(t)[0]
    # Thu 3, Fri 4, Mon 7 December.
    assert local(lead.complete_deadline) == end_of(2026, 12, 7)
    assert lead.extensions_used == 1
    assert (ext.status, ext.decided_by_id) == ("approved", desk.uid("dispatcher1"))
    assert local(ext.old_deadline) == end_of(2026, 12, 2)
    assert ext.new_deadline == lead.complete_deadline
    assert r.events[0].payload["new_deadline"] == lead.complete_deadline.isoformat()


def test_an_extension_across_national_day_skips_the_holiday_and_counts_the_makeup_day(desk):
    # Thu 2026-09-24 10:00 local: a normal consultation has 3 working days. Fri 25 – Sun 27
    # are off (中秋), so Mon 28 (1), Tue 29 (2), Wed 30 (3): due Wed 2026-09-30.
    desk.clock.current = datetime(2026, 9, 24, 10, 0, tzinfo=LOCAL_TZ)
    t = desk.signed(type="consult")
    assert local(desk.assignments(t)[0].complete_deadline) == end_of(2026, 9, 30)

    desk.clock.advance(days=5)  # Tue 29, before the deadline
    desk.act(t, "request_extension", "handler1", days=5, reason="节前无法上门")
    desk.act(t, "approve_extension", "dispatcher1")
    # From Wed 30: 1–7 October off (国庆); Thu 8 (1), Fri 9 (2), Sat 10 make-up day (3),
    # Sun 11 off, Mon 12 (4), Tue 13 (5).
    lead = desk.assignments(t)[0]
    assert local(lead.complete_deadline) == end_of(2026, 10, 13)
    assert lead.deadline_provisional is False


def test_a_second_pending_extension_request_is_refused(desk):
    t = desk.signed()
    desk.act(t, "request_extension", "handler1", days=2, reason="等待检测结果")
    desk.refused(t, "request_extension", "handler1", Conflict, days=1, reason="再等一天")


def test_at_most_two_extensions_are_approved(desk):
    t = desk.signed()
    for _ in range(2):
        desk.act(t, "request_extension", "handler1", days=1, reason="需更多时间")
        desk.act(t, "approve_extension", "dispatcher1")
    lead = desk.assignments(t)[0]
    assert lead.extensions_used == 2
    assert local(lead.complete_deadline) == end_of(2026, 12, 4)
    err = desk.refused(t, "request_extension", "handler1", Conflict, days=1, reason="第三次")
    assert "已延期 2 次" in err.message


def test_extension_of_more_than_seven_working_days_is_refused(desk):
    t = desk.dispatched()
    err = desk.refused(t, "request_extension", "handler1", InvalidInput, days=8,
                       reason="工程量大")
    assert err.field == "days"


def test_extension_request_after_the_deadline_is_refused(desk):
    t = desk.signed()
    deadline = desk.assignments(t)[0].complete_deadline
    desk.clock.current = deadline + timedelta(seconds=1)
    err = desk.refused(t, "request_extension", "handler1", Conflict, days=2, reason="来不及")
    assert "办结时限已过" in err.message


def test_refused_extension_keeps_the_deadline(desk):
    t = desk.signed()
    before = desk.assignments(t)[0].complete_deadline
    desk.act(t, "request_extension", "handler1", days=5, reason="需更多时间")
    r = desk.act(t, "refuse_extension", "dispatcher1", reason="事项简单，按期办结")
    ext = desk.session.scalars(select(Extension)).one()
    assert (ext.status, ext.decision_reason, ext.new_deadline) == (
        "refused", "事项简单，按期办结", None)
    lead = desk.assignments(t)[0]
    assert (lead.complete_deadline, lead.extensions_used) == (before, 0)
    assert r.events[0].reason == "事项简单，按期办结"
    # Nothing pending any more: a decision now has nothing to decide.
    desk.refused(t, "approve_extension", "dispatcher1", Conflict)


# ---------------------------------------------------------------- merges


def test_merged_child_keeps_its_number_and_follows_its_parent_to_archive(desk):
    parent = desk.dispatched()
    child = desk.intake(text="又有人在小区门口占道经营")
    child_number = child.number

    r = desk.act(child, "merge", "dispatcher1", parent=parent.number)
    assert child.status == "MERGED"
    assert child.number == child_number
    assert child.parent_id == parent.id
    merge_event = next(e for e in r.events if e.ticket_id == child.id)
    assert (merge_event.from_status, merge_event.to_status) == ("NEW", "MERGED")
    assert merge_event.payload == {"parent": parent.number}
    note = desk.events(parent)[-1]
    assert (note.action, note.from_status, note.to_status) == ("note", "DISPATCHED",
                                                               "DISPATCHED")
    assert note.payload == {"repeat_linked": child_number}
    assert note.actor_id == desk.uid("dispatcher1")
    assert parent.status == "DISPATCHED"

    desk.act(parent, "sign", "handler1")
    desk.act(parent, "complete", "handler1", result="已处理")
    desk.act(parent, "review_accept", "dispatcher1")
    assert child.status == "MERGED"  # follows only when the parent is archived
    desk.clock.advance(hours=1)
    desk.act(parent, "callback", "operator1", reached=True, satisfaction="satisfied",
             resolved=True)
    desk.session.expire_all()
    assert parent.status == "ARCHIVED"
    assert (child.status, child.outcome) == ("ARCHIVED", "with_parent")
    assert child.closed_at is not None
    follow = desk.events(child)[-1]
    assert (follow.action, follow.from_status, follow.to_status) == (
        "follow_parent", "MERGED", "ARCHIVED")
    assert (follow.actor_id, follow.actor_role) == (None, "system")
    assert follow.payload == {"parent": parent.number}


def test_merged_child_follows_a_parent_closed_by_110(desk):
    parent = desk.transferred()
    child = desk.intake()
    desk.act(child, "merge", "dispatcher1", parent=parent.number)
    desk.act(parent, "police_complete", "police1", result="已出警处置")
    desk.session.expire_all()
    assert (child.status, child.outcome) == ("ARCHIVED", "with_parent")


def test_merging_into_a_closed_ticket_is_refused(desk):
    closed = desk.intake()
    desk.act(closed, "void", "operator1", reason="测试来电")
    t = desk.intake()
    desk.refused(t, "merge", "dispatcher1", Conflict, parent=closed.number)


def test_merging_into_itself_or_an_unknown_ticket_is_refused(desk):
    t = desk.intake()
    err = desk.refused(t, "merge", "dispatcher1", InvalidInput, parent=t.number)
    assert err.field == "parent"
    err = desk.refused(t, "merge", "dispatcher1", InvalidInput, parent="12345-20000101-000001")
    assert err.field == "parent"


def test_a_ticket_with_merged_children_can_be_neither_voided_nor_merged(desk):
    parent = desk.intake()
    child = desk.intake()
    other = desk.intake()
    desk.act(child, "merge", "dispatcher1", parent=parent.number)
    desk.refused(parent, "void", "operator1", Conflict, reason="误报")
    desk.refused(parent, "merge", "dispatcher1", Conflict, parent=other.number)


# ---------------------------------------------------------------- closing from NEW


def test_void_from_new_closes_with_the_reason(desk):
    t = desk.intake()
    r = desk.act(t, "void", "operator1", reason="无声电话")
    assert t.status == "VOID"
    assert t.closed_at == desk.clock.now()
    assert (r.events[0].from_status, r.events[0].to_status, r.events[0].reason) == (
        "NEW", "VOID", "无声电话")


def test_void_after_dispatch_is_refused(desk):
    t = desk.dispatched()
    desk.refused(t, "void", "dispatcher1", Conflict, reason="误派")


def test_direct_answer_archives_from_new(desk):
    t = desk.intake(type="consult", text="请问身份证在哪里办理？")
    r = desk.act(t, "answer", "operator1", answer="请到市政务服务中心一楼办理")
    assert t.status == "ARCHIVED"
    assert t.outcome == "direct_answer"
    assert r.events[0].payload["answer"] == "请到市政务服务中心一楼办理"
    assert r.events[0].payload["article_id"] is None
    assert r.events[0].actor_id == desk.uid("operator1")


def test_a_direct_answer_naming_no_such_article_is_refused(desk):
    t = desk.intake(type="consult", text="请问身份证在哪里办理？")
    err = desk.refused(t, "answer", "operator1", InvalidInput, answer="请到政务中心办理",
                       article_id=7, article_version=2)
    assert err.field == "article_id"
    assert err.message == "article_id: 知识条目 7 不存在"


# ---------------------------------------------------------------- 12345 -> 110


def test_transfer_to_110_accepted_then_completed_by_110(desk):
    t = desk.intake(category="public_security", text="有人打架斗殴")
    desk.act(t, "transfer_110", "operator1", reason="涉警事项")
    assert (t.status, t.police_state) == ("TRANSFERRED_110", "pending")

    r = desk.act(t, "police_accept", "police1", incident_no="110-20261123-0042")
    assert t.status == "TRANSFERRED_110"
    assert t.police_state == "accepted"
    assert t.external_ref == "110-20261123-0042"
    assert (r.events[0].from_status, r.events[0].to_status) == (
        "TRANSFERRED_110", "TRANSFERRED_110")
    assert r.events[0].actor_id == desk.uid("police1")

    r = desk.act(t, "police_complete", "police1", result="民警已到场调解")
    assert t.status == "ARCHIVED"
    assert t.outcome == "handled_by_110"
    assert t.police_state == "completed"
    assert r.events[0].payload == {"result": "民警已到场调解"}


def test_110_rejection_returns_the_ticket_to_new_with_the_cause_shown(desk):
    t = desk.transferred()
    r = desk.act(t, "police_reject", "police1", reason="非警情，属城管职责")
    assert t.status == "NEW"
    assert (t.police_state, t.police_cause) == ("rejected", "非警情，属城管职责")
    assert (r.events[0].from_status, r.events[0].to_status, r.events[0].reason) == (
        "TRANSFERRED_110", "NEW", "非警情，属城管职责")
    view = ticket_view(desk.session, t, desk.actors["dispatcher1"], desk.directory,
                       desk.clock.now())
    assert view["police"]["cause"] == "非警情，属城管职责"
    assert view["status"] == "NEW"
    # Back in NEW it can be dispatched like any other ticket.
    desk.act(t, "dispatch", "dispatcher1", lead=URBAN)
    assert t.status == "DISPATCHED"


# ---------------------------------------------------------------- refusals


WRONG_ROLE: dict[str, list[tuple[str, str, dict]]] = {
    "NEW": [
        ("answer", "dispatcher1", {"answer": "答复"}),
        ("dispatch", "operator1", {"lead": URBAN}),
        ("transfer_110", "supervisor1", {"reason": "涉警"}),
        ("merge", "operator1", {"parent": "12345-20261123-000001"}),
        ("void", "leader1", {"reason": "误报"}),
    ],
    "DISPATCHED": [
        ("sign", "dispatcher1", {}),
        ("return", "operator1", {"reason": "不是我的"}),
        ("request_extension", "supervisor1", {"days": 1, "reason": "更多时间"}),
        ("urge", "operator1", {}),
        ("supervise", "handler1", {"reason": "督办"}),
    ],
    "SIGNED": [
        ("complete", "dispatcher1", {"result": "办好了"}),
        ("approve_extension", "handler1", {}),
        ("refuse_extension", "supervisor1", {"reason": "不同意"}),
    ],
    "COMPLETED": [
        ("review_accept", "operator1", {}),
        ("review_reject", "handler1", {"reason": "不合格"}),
    ],
    "REVIEWED": [
        ("callback", "dispatcher1", {"satisfaction": "satisfied", "resolved": True}),
        ("close_without_callback", "dispatcher1", {}),
    ],
    "TRANSFERRED_110": [
        ("police_accept", "dispatcher1", {}),
        ("police_reject", "operator1", {"reason": "非警情"}),
        ("police_complete", "supervisor1", {"result": "已处置"}),
    ],
}


@pytest.mark.parametrize("state", list(WRONG_ROLE))
def test_an_action_by_the_wrong_role_is_forbidden_and_writes_nothing(desk, state):
    t = desk.in_state(state)
    assert t.status == state
    for action, user, payload in WRONG_ROLE[state]:
        err = desk.refused(t, action, user, Forbidden, **payload)
        assert action in err.message, (action, user)
    assert t.status == state


def test_an_action_from_the_wrong_state_is_a_conflict(desk):
    t = desk.intake()
    desk.refused(t, "sign", "dispatcher1", Forbidden)  # role first
    t2 = desk.dispatched()
    desk.refused(t2, "review_accept", "dispatcher1", Conflict)
    desk.refused(t2, "callback", "operator1", Conflict, satisfaction="satisfied",
                 resolved=True)


def test_handler_of_another_department_does_not_see_the_ticket(desk):
    t = desk.dispatched()
    desk.refused(t, "sign", "street1", NotFound)
    desk.refused(t, "sign", "worker1", NotFound)
    desk.refused(t, "note", "police1", NotFound, text="看看")


def test_former_assignee_sees_the_ticket_but_may_no_longer_act_on_it(desk):
    t = desk.dispatched()
    desk.act(t, "return", "handler1", reason="不属于城管职责")
    desk.act(t, "dispatch", "dispatcher1", lead=PUDONG)
    err = desk.refused(t, "sign", "handler1", Forbidden)
    assert "没有正在办理的派单" in err.message
    desk.act(t, "sign", "street1")
    assert t.status == "SIGNED"


def test_grid_worker_assigned_on_dispatch_signs_and_completes(desk):
    t = desk.intake()
    desk.act(t, "dispatch", "dispatcher1", lead=PUDONG, grid_worker="worker1")
    assert desk.assignments(t)[0].grid_worker_id == desk.uid("worker1")
    desk.act(t, "sign", "worker1")
    desk.act(t, "complete", "worker1", result="现场已处理，附照片")
    assert t.status == "COMPLETED"
    assert desk.events(t)[-1].actor_id == desk.uid("worker1")


def test_dispatch_to_an_unknown_department_is_refused(desk):
    t = desk.intake()
    err = desk.refused(t, "dispatch", "dispatcher1", InvalidInput, lead="no_such_department")
    assert err.field == "lead"
    err = desk.refused(t, "dispatch", "dispatcher1", InvalidInput, lead=URBAN,
                       co_handlers=[URBAN])
    assert err.field == "co_handlers"


def test_stale_expected_version_is_refused_and_writes_nothing(desk):
    t = desk.dispatched()
    seen = t.version
    desk.act(t, "urge", "supervisor1", expected_version=seen)
    assert t.version == seen + 1
    err = desk.refused(t, "sign", "handler1", StaleVersion, expected_version=seen)
    assert err.field == "version"
    assert t.status == "DISPATCHED"
    desk.act(t, "sign", "handler1", expected_version=seen + 1)
    assert t.status == "SIGNED"


def test_unknown_action_is_not_found(desk):
    t = desk.intake()
    err = desk.refused(t, "teleport", "dispatcher1", NotFound)
    assert err.field == "action"


def test_a_one_key_transfer_and_a_three_party_call_are_logged_on_the_ticket(desk):
    t = desk.intake(category="public_security", text="有人在小区门口打架")
    version = t.version
    desk.act(t, "call_transfer", "operator1", kind="one_key", to="110", reason="涉警，转110")
    desk.act(t, "call_transfer", "operator1", kind="three_party", to="water_supply")
    events = desk.events(t)[-2:]
    assert [(e.action, e.payload["kind"], e.payload["to"]) for e in events] == [
        ("call_transfer", "one_key", "110"), ("call_transfer", "three_party", "water_supply")]
    assert events[0].reason == "涉警，转110" and t.status == "NEW" and t.version == version + 2
    err = desk.refused(t, "call_transfer", "operator1", InvalidInput, kind="fax", to="110")
    assert err.field == "kind"
    desk.refused(t, "call_transfer", "handler1", NotFound, kind="one_key", to="110")
