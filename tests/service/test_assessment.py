"""The monthly assessment (考核) and appeals (申诉) on a small hand-built month (November 2026):
scores by the scheme, caps, not ranked below 5 assignments, bureaus and streets ranked apart,
the same counts as the metrics, publication and re-publication, the appeal window of 5 working
days, and an accepted appeal changing that month's assessment only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from dispatch.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from dispatch.core.models import AdminChange, Event, Setting, Ticket
from dispatch.stats import metrics, rollups
from dispatch.stats.assessment import compute, department_row, get_scheme, set_scheme
from dispatch.stats.assessment_appeals import (
    assessment,
    decide_appeal,
    file_appeal,
    publish,
    scoped,
)
from dispatch.stats.assessment_tables import Appeal, AssessmentPublication
from dispatch.stats.definitions import DateRange, Filters
from dispatch.stats.raw import RAW
from tests.service.conftest import PUDONG, URBAN

NOV = "2026-11"
# Tuesday 1 December 2026, 10:00 in Asia/Shanghai: November is over.
DEC_1 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def _decide_lead(desk, ticket: Ticket, unfounded: list[str]) -> None:
    """The office's 定责 as the lifecycle records it (written directly here)."""
    desk.session.add(Event(ticket_id=ticket.id, at=desk.clock.now(), actor_role="supervisor",
                           action="decide_lead", from_status=ticket.status,
                           to_status=ticket.status, reason="会商定责",
                           payload={"lead": URBAN, "reason": "职责清单", "unfounded": unfounded}))
    desk.session.commit()


@pytest.fixture
def month(desk):
    """November: urban management (a bureau) has 5 assignments — one signed late and never
    completed, one reopened after a dissatisfied, unresolved callback — and an unfounded
    return; the Pudong street office has one assignment (signed, never completed) and an
    unfounded return. Returns the tickets by name."""
    urgent = {"urgency": "urgent"}  # sign within 2 h, complete within 3 working days
    late = desk.intake(**urgent)
    desk.act(late, "dispatch", "dispatcher1", lead=URBAN)
    desk.clock.advance(hours=3)
    desk.act(late, "sign", "handler1")
    happy, unhappy = desk.reviewed(**urgent), desk.reviewed(**urgent)
    desk.act(happy, "callback", "operator1", satisfaction="satisfied", resolved=True)
    desk.act(unhappy, "callback", "operator1", satisfaction="dissatisfied", resolved=False)
    done = [desk.completed(**urgent) for _ in range(2)]
    street = desk.intake(**urgent)
    desk.act(street, "dispatch", "dispatcher1", lead=PUDONG)
    desk.act(street, "sign", "street1")
    _decide_lead(desk, street, [URBAN, PUDONG])
    desk.clock.current = DEC_1
    return {"late": late, "happy": happy, "unhappy": unhappy, "done": done, "street": street}


def test_scores_follow_the_scheme_with_every_lost_point_on_its_tickets_ranked_by_group(
        desk, month):
    report = compute(desk.session, NOV, desk.clock.now())
    urban = department_row(report, URBAN)
    assert urban is not None
    items = {i["item"]: i for i in urban["items"]}
    assert (items["on_time_sign"]["numerator"], items["on_time_sign"]["denominator"]) == (4, 5)
    assert (items["on_time_completion"]["numerator"],
            items["on_time_completion"]["denominator"]) == (4, 5)
    assert (items["satisfaction"]["numerator"], items["satisfaction"]["denominator"]) == (1, 2)
    assert items["reopens"]["count"] == 1 and items["unfounded_returns"]["count"] == 1
    # 10 × 4/5 + 30 × 4/5 + 30 × 1/2 + 20 × 1/2 − 1 − 1
    assert urban["score"] == 55.0
    lost = {d["item"]: d for d in urban["deductions"]}
    assert lost["on_time_sign"]["tickets"] == [month["late"].number]
    assert lost["on_time_sign"]["points"] == 2.0
    assert lost["on_time_completion"]["tickets"] == [month["late"].number]
    assert lost["satisfaction"]["tickets"] == [month["unhappy"].number]
    assert lost["reopens"]["tickets"] == [month["unhappy"].number]
    assert lost["unfounded_returns"]["tickets"] == [month["street"].number]
    assert report["max_score"] == 90.0
    pudong = department_row(report, PUDONG)
    assert pudong is not None
    assert (urban["group"], urban["rank"], urban["assignments"]) == ("functional", 1, 5)
    # Below 5 assignments: listed, not ranked; bureaus and street offices ranked apart.
    assert (pudong["group"], pudong["rank"], pudong["ranked"]) == ("territorial", "not ranked",
                                                                    False)
    # 10 + 0 (its open clock is overdue) + 30 + 20 (nothing to count) − 1
    assert pudong["score"] == 59.0
    groups = [r["group"] for r in report["departments"]]
    assert groups == sorted(groups, key=("functional", "territorial").index)


def test_the_counts_are_the_dashboards_on_the_raw_log_and_the_rollups(desk, month):
    now = desk.clock.now()
    urban = department_row(compute(desk.session, NOV, now), URBAN)
    assert urban is not None
    items = {i["item"]: i for i in urban["items"]}
    rollups.refresh(desk.session)
    span = DateRange(datetime(2026, 11, 1).date(), datetime(2026, 11, 30).date())
    for source in (RAW, None):
        s = metrics.summary(desk.session, span, Filters(department=URBAN), now, source=source)
        for item, metric in (("on_time_sign", "on_time_sign_rate"),
                             ("on_time_completion", "on_time_completion_rate"),
                             ("satisfaction", "satisfaction_rate"),
                             ("resolution", "resolution_rate")):
            fig = s.figures[metric]
            assert (items[item]["numerator"], items[item]["denominator"]) == \
                (fig.numerator, fig.denominator), (item, source)
        assert s.figures["reopen_rate"].numerator == items["reopens"]["count"]


def test_penalties_stop_at_their_cap_and_an_edited_scheme_is_recorded(desk, month):
    set_scheme(desk.session, {"reopen_points": 4, "reopen_cap": 2.5,
                              "unfounded_return_points": 3, "unfounded_return_cap": 0,
                              "min_assignments": 6}, desk.uid("admin1"))
    desk.session.commit()
    urban = department_row(compute(desk.session, NOV, desk.clock.now()), URBAN)
    assert urban is not None
    items = {i["item"]: i for i in urban["items"]}
    assert items["reopens"]["points"] == -2.5 and items["unfounded_returns"]["points"] == 0
    assert urban["score"] == 57 - 2.5 and urban["rank"] == "not ranked"
    change = desk.session.scalars(select(AdminChange)).one()
    assert (change.key, change.after["reopen_cap"]) == ("assessment_scheme", 2.5)


BAD_SCHEMES = [
    ({"satisfaction": "30"}, "satisfaction"), ({"reopen_cap": -1}, "reopen_cap"),
    ({"resolution": 80}, "on_time_sign"), ({"min_assignments": 2.5}, "min_assignments"),
    ({"bonus": 1}, "bonus"), ({"on_time_sign": True}, "on_time_sign"),
]


def test_a_bad_scheme_is_refused_in_chinese_naming_the_field_and_nothing_is_written(desk):
    for data, field in BAD_SCHEMES:
        with pytest.raises(InvalidInput) as caught:
            set_scheme(desk.session, data, desk.uid("admin1"))
        desk.session.rollback()
        assert caught.value.field == field, data
        assert any("\u4e00" <= c <= "\u9fff" for c in caught.value.message)
    assert desk.count(Setting) == 0 and desk.count(AdminChange) == 0
    assert get_scheme(desk.session).reopen_cap == 5


def test_publishing_locks_the_month_and_a_republication_is_recorded(desk, month, actors):
    office = actors["supervisor1"]
    desk.clock.current = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    with pytest.raises(Conflict, match="尚未结束"):
        publish(desk.session, NOV, office, desk.clock.now())
    desk.session.rollback()
    assert desk.count(AssessmentPublication) == 0
    with pytest.raises(Forbidden):
        publish(desk.session, NOV, actors["handler1"], DEC_1)
    desk.clock.current = DEC_1
    publish(desk.session, NOV, office, desk.clock.now())
    desk.session.commit()
    # A later change (here: of the scheme) does not move the published figures.
    set_scheme(desk.session, {"reopen_points": 0}, desk.uid("admin1"))
    desk.session.commit()
    seen = assessment(desk.session, NOV, desk.clock.now())
    assert seen["state"] == "published" and seen["publication"]["number"] == 1
    assert department_row(seen, URBAN)["score"] == 55.0
    again = publish(desk.session, NOV, office, desk.clock.now(), reason="考核方案调整")
    desk.session.commit()
    seen = assessment(desk.session, NOV, desk.clock.now())
    assert again.number == 2 and [p["number"] for p in seen["publications"]] == [1, 2]
    assert seen["publication"]["reason"] == "考核方案调整"
    assert department_row(seen, URBAN)["score"] == 56.0


def _appeal(tickets, **fields):
    body = {"month": NOV, "department": URBAN, "ticket": tickets["unhappy"].number,
            "reason": "市民诉求超出本部门职责，已按政策答复", "attachments": []}
    body.update(fields)
    return body


def test_an_accepted_appeal_changes_that_months_assessment_only_and_never_the_metrics(
        desk, month, actors):
    office, handler = actors["supervisor1"], actors["handler1"]
    publish(desk.session, NOV, office, desk.clock.now())
    desk.session.commit()
    span = DateRange(datetime(2026, 11, 1).date(), datetime(2026, 11, 30).date())
    before = metrics.summary(desk.session, span, Filters(department=URBAN), desk.clock.now(),
                             source=RAW).tally
    december = compute(desk.session, "2026-12", desk.clock.now())
    appeal = file_appeal(desk.session, handler, _appeal(month), desk.clock.now())
    desk.session.commit()
    decide_appeal(desk.session, office, appeal.id, True, "属实，予以采纳", desk.clock.now())
    desk.session.commit()
    seen = assessment(desk.session, NOV, desk.clock.now())
    urban = department_row(seen, URBAN)
    assert urban is not None and urban["excluded"] == [month["unhappy"].number]
    # Without the unhappy ticket: 10 × 3/4 + 30 × 3/4 + 30 + 20 − 1 (no reopen left)
    assert urban["score"] == 79.0 and urban["assignments"] == 4
    assert seen["publication"]["number"] == 2 and "采纳申诉" in seen["publication"]["reason"]
    after = metrics.summary(desk.session, span, Filters(department=URBAN), desk.clock.now(),
                            source=RAW).tally
    assert after == before
    later = compute(desk.session, "2026-12", desk.clock.now())
    assert department_row(later, URBAN) == department_row(december, URBAN)
    assert {r["department"] for r in scoped(seen, handler)["departments"]} == {URBAN}


def test_an_appeal_is_taken_within_five_working_days_of_publication_only(desk, month, actors):
    publish(desk.session, NOV, actors["supervisor1"], desk.clock.now())
    desk.session.commit()
    handler = actors["handler1"]
    # Published on Tuesday 1 December: the window ends on Tuesday 8 December, 23:59:59 local.
    desk.clock.current = datetime(2026, 12, 9, 1, 0, tzinfo=UTC)
    with pytest.raises(Conflict, match="申诉期已过"):
        file_appeal(desk.session, handler, _appeal(month), desk.clock.now())
    desk.session.rollback()
    assert desk.count(Appeal) == 0
    desk.clock.current = datetime(2026, 12, 8, 15, 0, tzinfo=UTC)
    assert file_appeal(desk.session, handler, _appeal(month), desk.clock.now()).state == \
        "pending"


def test_refused_appeals_and_decisions_write_nothing(desk, month, actors):
    handler, office = actors["handler1"], actors["supervisor1"]
    with pytest.raises(Conflict, match="尚未发布"):
        file_appeal(desk.session, handler, _appeal(month), desk.clock.now())
    publish(desk.session, NOV, office, desk.clock.now())
    desk.session.commit()
    refusals = [
        (actors["street1"], _appeal(month), Forbidden),
        (office, _appeal(month), Forbidden),
        (handler, _appeal(month, ticket=month["happy"].number), InvalidInput),
        (handler, _appeal(month, ticket="12345-20261101-999999"), NotFound),
        (handler, _appeal(month, reason=" "), InvalidInput),
        (handler, _appeal(month, attachments=[12345]), InvalidInput),
        (handler, _appeal(month, month="2026-13"), InvalidInput),
    ]
    for actor, body, error in refusals:
        with pytest.raises(error) as caught:
            file_appeal(desk.session, actor, body, desk.clock.now())
        desk.session.rollback()
        assert any("\u4e00" <= c <= "\u9fff" for c in caught.value.message)
    assert desk.count(Appeal) == 0
    appeal = file_appeal(desk.session, handler, _appeal(month), desk.clock.now())
    desk.session.commit()
    with pytest.raises(Conflict, match="申诉过"):
        file_appeal(desk.session, handler, _appeal(month), desk.clock.now())
    desk.session.rollback()
    with pytest.raises(Forbidden):
        decide_appeal(desk.session, handler, appeal.id, True, "自己采纳", desk.clock.now())
    with pytest.raises(InvalidInput):
        decide_appeal(desk.session, office, appeal.id, True, "", desk.clock.now())
    desk.session.rollback()
    decide_appeal(desk.session, office, appeal.id, False, "证据不足", desk.clock.now())
    desk.session.commit()
    with pytest.raises(Conflict, match="已处理"):
        decide_appeal(desk.session, office, appeal.id, True, "改为采纳", desk.clock.now())
    desk.session.rollback()
    assert desk.count(Appeal) == 1 and desk.count(AssessmentPublication) == 1
    assert desk.session.scalar(select(func.count()).select_from(Appeal)
                               .where(Appeal.state == "rejected")) == 1


def test_a_publication_racing_another_of_the_same_number_is_a_conflict_writing_nothing(
        desk, month, actors):
    from dispatch.stats import assessment_appeals

    first = publish(desk.session, NOV, actors["supervisor1"], desk.clock.now())
    desk.session.commit()
    twin = AssessmentPublication(month=NOV, number=first.number, published_at=DEC_1,
                                 snapshot={})
    with pytest.raises(Conflict, match="刚被他人发布"):
        assessment_appeals._insert(desk.session, twin, "month: 2026-11 的考核刚被他人发布")
    desk.session.commit()  # the transaction is still usable: only the savepoint went
    assert desk.count(AssessmentPublication) == 1


def test_the_lifecycles_decide_lead_charges_the_unfounded_returns(desk):
    t = desk.intake()
    desk.act(t, "dispatch", "dispatcher1", lead=URBAN)
    desk.act(t, "return", "handler1", reason="属街道职责")
    desk.act(t, "dispatch", "dispatcher1", lead=PUDONG)
    desk.act(t, "return", "street1", reason="属城管职责")
    desk.act(t, "decide_lead", "supervisor1", lead=URBAN, reason="占道经营执法属城管职责",
             unfounded=[URBAN, PUDONG])
    report = compute(desk.session, NOV, DEC_1)
    for code in (URBAN, PUDONG):
        row = department_row(report, code)
        assert row is not None
        lost = {d["item"]: d for d in row["deductions"]}
        assert lost["unfounded_returns"]["tickets"] == [t.number], code
        assert lost["unfounded_returns"]["points"] == 1.0
