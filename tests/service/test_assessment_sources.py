"""The monthly assessment computed from the rollups' facts equals the one counted again from the
raw tables and the event log, on a test month (returns and re-dispatches, an extension, late and
open clocks, clocks that run into the next month, callbacks of each answer, reopens, unfounded
returns), at the month's end and weeks later; and an accepted appeal changes the assessment
only: the raw figures, the rollups and the ticket's log stay as they were."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from dispatch.core.models import Event
from dispatch.stats import metrics, rollups
from dispatch.stats.assessment import compute, department_row
from dispatch.stats.assessment_appeals import assessment, decide_appeal, file_appeal, publish
from dispatch.stats.definitions import DateRange, Filters
from dispatch.stats.raw import RAW
from tests.service.conftest import PUDONG, URBAN
from tests.service.test_assessment import DEC_1, NOV, _appeal, month  # noqa: F401
from tests.service.test_rollups import fact_rows

SPAN = DateRange(datetime(2026, 11, 1).date(), datetime(2026, 11, 30).date())
JAN_12 = datetime(2027, 1, 12, 2, 0, tzinfo=UTC)


@pytest.fixture
def varied(desk, request):
    """The hand-built November of test_assessment, and more: a ticket returned by the street
    office and re-dispatched to urban management, an approved extension, an unreached
    callback, a ticket dispatched late on 30 November (its clocks run into December)."""
    returned = desk.intake()
    desk.act(returned, "dispatch", "dispatcher1", lead=PUDONG)
    desk.act(returned, "return", "street1", reason="不属于本单位职责")
    desk.act(returned, "dispatch", "dispatcher1", lead=URBAN)
    desk.act(returned, "sign", "handler1")
    extended = desk.signed()
    desk.act(extended, "request_extension", "handler1", days=2, reason="需要协调其他部门")
    desk.act(extended, "approve_extension", "dispatcher1")
    unreached = desk.reviewed()
    desk.act(unreached, "callback", "operator1", reached=False)
    tickets = request.getfixturevalue("month")
    desk.clock.current = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)  # 23:30 local
    desk.dispatched()
    desk.clock.current = DEC_1
    return tickets


def both(desk, when: datetime, month_name: str = NOV) -> tuple[dict, dict]:
    """The month's assessment from the raw log and from the freshly refreshed rollups."""
    rollups.refresh(desk.session)
    raw = compute(desk.session, month_name, when, source="raw")
    rolled = compute(desk.session, month_name, when, source="rollups")
    return raw, rolled


def test_the_assessment_from_the_rollups_equals_the_one_from_the_raw_log(desk, varied):
    for when in (DEC_1, JAN_12):
        raw, rolled = both(desk, when)
        assert rolled == raw, when
        for month_name in ("2026-10", "2026-12"):  # a month without units, a month after
            assert compute(desk.session, month_name, when, source="rollups") == \
                compute(desk.session, month_name, when, source="raw")
    # The month is varied enough for the equality to mean something.
    urban, pudong = department_row(raw, URBAN), department_row(raw, PUDONG)
    assert urban is not None and pudong is not None
    items = {i["item"]: i for i in urban["items"]}
    assert urban["assignments"] == 9 and pudong["assignments"] == 2
    assert items["on_time_sign"]["denominator"] > items["on_time_sign"]["numerator"] > 0
    assert items["on_time_completion"]["denominator"] > \
        items["on_time_completion"]["numerator"] > 0
    assert items["satisfaction"]["denominator"] > items["satisfaction"]["numerator"] > 0
    assert items["reopens"]["count"] == 1 and items["unfounded_returns"]["count"] == 1
    assert {d["item"] for d in urban["deductions"]} == {
        "on_time_sign", "on_time_completion", "satisfaction", "resolution", "reopens",
        "unfounded_returns"}


def test_the_rollups_assessment_is_as_current_as_their_last_refresh(desk, request):
    request.getfixturevalue("month")
    before = department_row(compute(desk.session, NOV, DEC_1, source="rollups"), URBAN)
    # Nothing refreshed yet in this test: no facts, only the 定责 decision (read from its event).
    assert before is not None and before["assignments"] == 0
    assert [d["item"] for d in before["deductions"]] == ["unfounded_returns"]
    raw, rolled = both(desk, DEC_1)
    assert rolled == raw and department_row(rolled, URBAN)["score"] == 55.0


def test_an_accepted_appeal_changes_the_assessment_only_never_the_raw_metrics_or_rollups(
        desk, varied, actors):
    office, handler = actors["supervisor1"], actors["handler1"]
    now = desk.clock.now()
    publish(desk.session, NOV, office, now)
    desk.session.commit()
    rollups.refresh(desk.session)

    def figures() -> tuple:
        rollups.refresh(desk.session)
        return (metrics.summary(desk.session, SPAN, Filters(), now, source=RAW).tally,
                metrics.summary(desk.session, SPAN, Filters(), now).tally,
                [(r.key, r.tally) for r in metrics.breakdown(desk.session, SPAN, Filters(),
                                                             now, "department", source=RAW)],
                fact_rows(desk.session), rollups.slice_rows(desk.session),
                desk.session.scalar(select(func.count()).select_from(Event)))

    before = figures()
    published = department_row(assessment(desk.session, NOV, now), URBAN)
    appeal = file_appeal(desk.session, handler, _appeal(varied), now)
    desk.session.commit()
    decide_appeal(desk.session, office, appeal.id, True, "属实，予以采纳", now)
    desk.session.commit()

    assert figures() == before
    seen = department_row(assessment(desk.session, NOV, now), URBAN)
    assert published is not None and seen is not None
    assert seen["excluded"] == [varied["unhappy"].number] and published["excluded"] == []
    assert seen["score"] > published["score"]
    assert seen["assignments"] == published["assignments"] - 1
    # The live assessment (either source) leaves the ticket out as the publication does.
    raw, rolled = both(desk, now)
    assert rolled == raw and department_row(raw, URBAN) == seen
