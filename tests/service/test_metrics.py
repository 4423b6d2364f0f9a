"""The leadership metrics of DOMAIN.md, each on a small hand-built history whose answer is
worked out here. Every figure is read from the rollups (after a refresh) and checked against
the computation over the raw tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pytest
from sqlalchemy.orm import Session

from dispatch import subscribers
from dispatch.core.commands import AutoDispatchPayload, RaiseAlarmPayload
from dispatch.core.errors import InvalidInput
from dispatch.core.models import Ticket
from dispatch.core.ports import ManualClock
from dispatch.intake.alarms import ALARM_ACTOR
from dispatch.intake.autodispatch import AUTO_ACTOR
from dispatch.stats import rollups
from dispatch.stats.metrics import (
    RAW,
    DateRange,
    Figure,
    Filters,
    Summary,
    breakdown,
    buckets,
    drill_down,
    summary,
    trend,
)
from dispatch.stats.metrics import rank as metrics_rank
from dispatch.tickets.calendar import LOCAL_TZ
from dispatch.tickets.lifecycle import perform
from tests.service.conftest import PUDONG, URBAN, VENDING

MON, TUE, WED, THU, FRI = (date(2026, 11, d) for d in (23, 24, 25, 26, 27))


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


def set_local(clock: ManualClock, *args: int) -> None:
    clock.current = local(*args)


@dataclass
class Stats:
    """Reads figures as the dashboard does, checking each against the raw computation."""

    session: Session
    clock: ManualClock

    def summary(self, start: date, end: date | None = None, **filters: str):
        span, f, now = DateRange(start, end or start), Filters(**filters), self.clock.now()
        rollups.refresh(self.session)
        rolled = summary(self.session, span, f, now)
        raw = summary(self.session, span, f, now, source=RAW)
        assert rolled.tally == raw.tally
        return rolled

    def figures(self, start: date, end: date | None = None, **filters: str) -> dict[str, Figure]:
        return self.summary(start, end, **filters).figures

    def fig(self, metric: str, start: date, end: date | None = None,
            **filters: str) -> tuple[int, int | None]:
        f = self.figures(start, end, **filters)[metric]
        return f.numerator, f.denominator

    def numbers(self, metric: str, part: str, start: date, end: date | None = None,
                **filters: str) -> list[str]:
        """The ticket numbers behind a part (both sources agree on the units)."""
        span, f, now = DateRange(start, end or start), Filters(**filters), self.clock.now()
        rollups.refresh(self.session)
        rolled = drill_down(self.session, span, f, now, metric, part, per_page=100)
        raw = drill_down(self.session, span, f, now, metric, part, per_page=100, source=RAW)
        assert rolled == raw
        assert rolled.total == len(rolled.items)
        return [i.number for i in rolled.items]


@pytest.fixture
def stats(session, clock):
    was = subscribers.running("statistics")
    subscribers.resume("statistics")
    try:
        yield Stats(session, clock)
    finally:
        if not was:
            subscribers.pause("statistics")


# ---------------------------------------------------------------- intake and its rates


def test_intake_counts_tickets_by_their_local_creation_day_with_void_apart(desk, clock, stats):
    desk.intake()
    voided = desk.intake()
    set_local(clock, 2026, 11, 23, 23, 30)  # Monday in Shanghai (15:30 UTC)
    desk.intake()
    set_local(clock, 2026, 11, 24, 0, 30)  # Tuesday in Shanghai, still Monday in UTC
    tuesday = desk.intake()
    desk.act(voided, "void", "operator1", reason="无声电话")

    monday = stats.figures(MON)
    assert (monday["intake"].numerator, monday["void"].numerator) == (2, 1)
    assert monday["intake"].denominator is None and monday["intake"].rate is None
    assert stats.fig("intake", TUE) == (1, None)
    assert stats.fig("intake", MON, TUE) == (3, None)
    assert stats.numbers("intake", "numerator", TUE) == [tuesday.number]
    assert stats.numbers("void", "numerator", MON, TUE) == [voided.number]


def test_direct_answer_rate_is_direct_answers_over_intake_without_void(desk, stats):
    answered = desk.intake(type="consult")
    desk.act(answered, "answer", "operator1", answer="社保卡补办请到政务服务中心二楼")
    desk.intake()
    desk.dispatched()
    voided = desk.intake()
    desk.act(voided, "void", "operator1", reason="骚扰电话")

    figure = stats.figures(MON)["direct_answer_rate"]
    assert (figure.numerator, figure.denominator) == (1, 3)
    assert figure.rate == pytest.approx(1 / 3)
    assert stats.numbers("direct_answer_rate", "numerator", MON) == [answered.number]
    assert len(stats.numbers("direct_answer_rate", "denominator", MON)) == 3


def test_repeat_rate_counts_tickets_merged_into_another(desk, clock, stats):
    parent = desk.intake()
    first = desk.intake()
    desk.act(first, "merge", "dispatcher1", parent=parent.number)
    clock.advance(days=1)
    second = desk.intake()
    desk.act(second, "merge", "dispatcher1", parent=parent.number)
    desk.intake()

    assert stats.fig("repeat_rate", MON) == (1, 2)
    assert stats.fig("repeat_rate", MON, TUE) == (2, 4)
    assert stats.numbers("repeat_rate", "numerator", MON, TUE) == [first.number, second.number]


# ---------------------------------------------------------------- clocks


def test_on_time_sign_rate_counts_assignments_by_sign_deadline_day(desk, clock, stats):
    # Dispatched Monday 10:00 (normal urgency: sign for within 24 h, by Tuesday 10:00).
    on_time = desk.dispatched(co=[PUDONG])  # the co-handler's clock counts on its own
    late = desk.dispatched()
    returned_early = desk.dispatched()
    never = desk.dispatched()
    desk.act(on_time, "sign", "handler1")
    desk.act(on_time, "sign", "street1")
    clock.advance(hours=5)
    desk.act(returned_early, "return", "handler1", reason="不属于本单位职责")
    set_local(clock, 2026, 11, 24, 13, 0)
    desk.act(late, "sign", "handler1")
    set_local(clock, 2026, 11, 24, 20, 0)
    tonight = desk.dispatched()  # sign deadline Wednesday 20:00

    assert stats.fig("on_time_sign_rate", TUE) == (2, 4)
    assert stats.fig("on_time_sign_rate", TUE, department=URBAN) == (1, 3)
    assert stats.fig("on_time_sign_rate", TUE, department=PUDONG) == (1, 1)
    assert sorted(stats.numbers("on_time_sign_rate", "denominator", TUE)) == sorted(
        [on_time.number, on_time.number, late.number, never.number])
    assert returned_early.number not in stats.numbers("on_time_sign_rate", "denominator",
                                                      MON, FRI)
    # Wednesday: a deadline later today is not counted yet; once it passes it is missed.
    set_local(clock, 2026, 11, 25, 12, 0)
    assert stats.fig("on_time_sign_rate", WED) == (0, 0)
    assert stats.figures(WED)["on_time_sign_rate"].rate is None
    set_local(clock, 2026, 11, 25, 21, 0)
    assert stats.fig("on_time_sign_rate", WED) == (0, 1)
    assert stats.numbers("on_time_sign_rate", "denominator", WED) == [tonight.number]
    # The next day it is still missed, now read from the rollups alone.
    set_local(clock, 2026, 11, 26, 9, 0)
    assert stats.fig("on_time_sign_rate", WED) == (0, 1)
    desk.act(tonight, "sign", "handler1")
    assert stats.fig("on_time_sign_rate", WED) == (0, 1)


def test_on_time_completion_rate_counts_completed_and_open_past_deadline(desk, clock, stats):
    # Urgent consultations dispatched Monday 10:00: complete within 2 working days, by
    # Wednesday 23:59:59.
    def urgent():
        t = desk.intake(type="consult", urgency="urgent")
        desk.act(t, "dispatch", "dispatcher1", lead=URBAN)
        desk.act(t, "sign", "handler1")
        return t

    done, late, still_open, returned_late, returned_early, extended = (urgent() for _ in "123456")
    desk.act(extended, "request_extension", "handler1", days=2, reason="需协调供电部门")
    desk.act(extended, "approve_extension", "dispatcher1")  # deadline now Friday 23:59:59
    set_local(clock, 2026, 11, 24, 15, 0)
    desk.act(done, "complete", "handler1", result="已答复")
    desk.act(returned_early, "return", "handler1", reason="不属于本单位职责")
    set_local(clock, 2026, 11, 26, 10, 0)
    desk.act(late, "complete", "handler1", result="已答复")
    desk.act(returned_late, "return", "handler1", reason="不属于本单位职责")
    desk.act(extended, "complete", "handler1", result="已答复")
    set_local(clock, 2026, 11, 27, 9, 0)

    assert stats.fig("on_time_completion_rate", WED) == (1, 4)
    assert sorted(stats.numbers("on_time_completion_rate", "denominator", WED)) == sorted(
        [done.number, late.number, still_open.number, returned_late.number])
    assert stats.fig("on_time_completion_rate", FRI) == (1, 1)
    assert stats.numbers("on_time_completion_rate", "numerator", FRI) == [extended.number]
    # Dispatches of Monday: two returned, one extended.
    assert stats.fig("return_rate", MON) == (2, 6)
    assert stats.fig("extension_rate", MON) == (1, 6)
    assert stats.numbers("extension_rate", "numerator", MON) == [extended.number]
    assert stats.fig("overdue_now", MON) == (1, None)  # still_open, whatever the period
    assert stats.numbers("overdue_now", "numerator", MON) == [still_open.number]


def test_overdue_now_is_at_the_moment_asked_and_ignores_the_period(desk, clock, stats):
    t = desk.dispatched()  # sign for by Tuesday 10:00
    assert stats.fig("overdue_now", MON) == (0, None)
    set_local(clock, 2026, 11, 24, 10, 1)
    assert stats.fig("overdue_now", MON) == (1, None)
    assert stats.fig("overdue_now", FRI) == (1, None)
    assert stats.fig("overdue_now", MON, department=PUDONG) == (0, None)
    desk.act(t, "sign", "handler1")
    assert stats.fig("overdue_now", MON) == (0, None)


# ---------------------------------------------------------------- dispatched tickets


def test_completion_and_reopen_rates_are_over_tickets_first_dispatched_in_the_period(
        desk, clock, stats):
    completed = desk.completed()
    archived = desk.reviewed()
    desk.act(archived, "callback", "operator1", satisfaction="satisfied", resolved=True)
    signed = desk.signed()
    rerouted = desk.dispatched()
    desk.act(rerouted, "return", "handler1", reason="属于街道职责")
    reopened = desk.reviewed()
    desk.act(reopened, "callback", "operator1", satisfaction="dissatisfied", resolved=False)
    next_day = desk.intake()
    clock.advance(days=1)
    desk.act(rerouted, "dispatch", "dispatcher1", lead=PUDONG)
    desk.act(next_day, "dispatch", "dispatcher1", lead=URBAN)

    assert stats.fig("completion_rate", MON) == (2, 5)
    assert sorted(stats.numbers("completion_rate", "numerator", MON)) == sorted(
        [completed.number, archived.number])
    assert signed.number in stats.numbers("completion_rate", "denominator", MON)
    assert stats.fig("reopen_rate", MON) == (1, 5)
    assert stats.numbers("reopen_rate", "numerator", MON) == [reopened.number]
    assert stats.fig("completion_rate", TUE) == (0, 1)
    assert stats.numbers("completion_rate", "denominator", TUE) == [next_day.number]
    # The reopened ticket, completed again, counts again.
    desk.act(reopened, "dispatch", "dispatcher1", lead=URBAN)
    desk.act(reopened, "sign", "handler1")
    desk.act(reopened, "complete", "handler1", result="已重新处理")
    assert stats.fig("completion_rate", MON) == (3, 5)


# ---------------------------------------------------------------- callbacks


def test_callback_satisfaction_and_resolution_rates(desk, clock, stats):
    happy = desk.reviewed()
    desk.act(happy, "callback", "operator1", satisfaction="satisfied", resolved=True)
    unresolved = desk.reviewed()
    desk.act(unresolved, "callback", "operator1", satisfaction="basically_satisfied",
             resolved=False)
    unhappy = desk.reviewed()
    desk.act(unhappy, "callback", "operator1", satisfaction="dissatisfied", resolved=True)
    anonymous = desk.reviewed(citizen={"anonymous": True})  # closed without a callback
    unreachable = desk.reviewed()
    for _ in range(3):
        desk.act(unreachable, "callback", "operator1", reached=False)
    waiting = desk.reviewed()

    assert anonymous.status == "ARCHIVED" and unreachable.status == "ARCHIVED"
    assert stats.fig("callback_rate", MON) == (4, 5)
    assert stats.numbers("callback_rate", "denominator", MON) == [
        happy.number, unresolved.number, unhappy.number, unreachable.number, waiting.number]
    assert stats.fig("satisfaction_rate", MON) == (2, 3)
    assert stats.fig("resolution_rate", MON) == (2, 3)
    assert stats.numbers("resolution_rate", "numerator", MON) == [happy.number, unhappy.number]

    # Reopened, handled again and answered on Tuesday: a second review and a second answer.
    clock.advance(days=1)
    desk.act(unhappy, "dispatch", "dispatcher1", lead=URBAN)
    desk.act(unhappy, "sign", "handler1")
    desk.act(unhappy, "complete", "handler1", result="已重新处理")
    desk.act(unhappy, "review_accept", "dispatcher1")
    desk.act(unhappy, "callback", "operator1", satisfaction="satisfied", resolved=True)
    assert stats.fig("callback_rate", TUE) == (1, 1)
    assert stats.fig("satisfaction_rate", TUE) == (1, 1)
    assert stats.fig("satisfaction_rate", MON) == (2, 3)  # the first answer still counts
    assert stats.fig("satisfaction_rate", MON, TUE) == (3, 4)


# ---------------------------------------------------------------- 智能派单 and alarms


def auto_dispatch(desk, ticket: Ticket, lead: str = URBAN) -> None:
    """Dispatch by the system, as intake does on a confident suggestion (智能派单)."""
    payload = AutoDispatchPayload(lead=lead, confidence=0.93, threshold=0.8, setting=VENDING,
                                  source="test-model", reasons=["分类置信度 0.93 ≥ 0.80"])
    perform(desk.session, ticket, "dispatch", AUTO_ACTOR, payload, now=desk.clock.now(),
            directory=desk.directory)
    desk.session.commit()


def raise_alarm(desk, ticket: Ticket) -> None:
    """The emergency alarm of an unattended channel, raised now."""
    perform(desk.session, ticket, "raise_alarm", ALARM_ACTOR, RaiseAlarmPayload(),
            now=desk.clock.now(), directory=desk.directory)
    desk.session.commit()


def test_auto_dispatch_rate_and_accuracy_count_tickets_first_dispatched_in_the_period(
        desk, clock, stats):
    kept, returned, taken_back, waiting = (desk.intake() for _ in range(4))
    for t in (kept, returned, taken_back, waiting):
        auto_dispatch(desk, t)
    desk.act(kept, "sign", "handler1")
    desk.act(kept, "complete", "handler1", result="已清理占道摊点")
    desk.act(returned, "return", "handler1", reason="属于街道职责")
    desk.act(returned, "dispatch", "dispatcher1", lead=PUDONG)  # re-routed after the return
    desk.act(taken_back, "take_back", "dispatcher1")
    desk.act(taken_back, "dispatch", "dispatcher1", lead=URBAN)  # the same department again
    by_hand = desk.dispatched()
    desk.intake()  # never dispatched: in neither figure
    clock.advance(days=1)
    tuesday = desk.intake()
    auto_dispatch(desk, tuesday, lead=PUDONG)

    assert stats.fig("auto_dispatch_rate", MON) == (4, 5)
    assert stats.fig("auto_dispatch_accuracy", MON) == (2, 4)
    assert stats.numbers("auto_dispatch_accuracy", "numerator", MON) == [kept.number,
                                                                         waiting.number]
    assert stats.numbers("auto_dispatch_accuracy", "denominator", MON) == [
        kept.number, returned.number, taken_back.number, waiting.number]
    assert by_hand.number in stats.numbers("auto_dispatch_rate", "denominator", MON)
    assert by_hand.number not in stats.numbers("auto_dispatch_rate", "numerator", MON)
    # A ticket counts for its latest lead department, as every ticket figure does.
    assert stats.fig("auto_dispatch_rate", MON, department=URBAN) == (3, 4)
    assert stats.fig("auto_dispatch_accuracy", MON, department=PUDONG) == (0, 1)
    assert stats.fig("auto_dispatch_rate", TUE) == (1, 1)
    assert stats.fig("auto_dispatch_accuracy", MON, TUE) == (3, 5)
    # By day and by department the figures add up to the period's.
    session, now, span = stats.session, clock.now(), DateRange(MON, TUE)
    days = trend(session, span, Filters(), now, "day")
    assert [p.figures["auto_dispatch_rate"].numerator for p in days] == [4, 1]
    assert days == trend(session, span, Filters(), now, "day", source=RAW)
    rows = breakdown(session, span, Filters(), now, "department", sort="auto_dispatch_accuracy")
    assert rows == breakdown(session, span, Filters(), now, "department",
                             sort="auto_dispatch_accuracy", source=RAW)
    assert {r.key: (r.figures["auto_dispatch_accuracy"].numerator,
                    r.figures["auto_dispatch_accuracy"].denominator) for r in rows} == {
        URBAN: (2, 3), PUDONG: (1, 2), None: (0, 0)}


def test_a_later_dispatch_elsewhere_makes_an_auto_dispatch_inaccurate_even_without_a_return(
        desk, stats):
    t = desk.intake()
    auto_dispatch(desk, t)
    desk.act(t, "sign", "handler1")
    desk.act(t, "complete", "handler1", result="已处理")
    desk.act(t, "review_accept", "dispatcher1")
    assert stats.fig("auto_dispatch_accuracy", MON) == (1, 1)
    desk.act(t, "callback", "operator1", satisfaction="dissatisfied", resolved=False)
    desk.act(t, "dispatch", "dispatcher1", lead=PUDONG)  # reopened and sent elsewhere
    assert stats.fig("auto_dispatch_accuracy", MON) == (0, 1)
    assert stats.fig("auto_dispatch_rate", MON) == (1, 1)


def test_alarm_ack_rate_counts_alarms_acknowledged_within_60_seconds(desk, clock, stats):
    set_local(clock, 2026, 11, 23, 10, 0, 0)
    clock.current = clock.current.replace(microsecond=500_000)  # the boundary to the µs
    on_the_minute, a_moment_late, never, no_alarm = (desk.intake(channel="wechat")
                                                     for _ in range(4))
    for t in (on_the_minute, a_moment_late, never):
        raise_alarm(desk, t)
    clock.advance(seconds=60)
    desk.act(on_the_minute, "acknowledge_alarm", "dispatcher1")  # 60 s: in time
    clock.advance(microseconds=1)
    desk.act(a_moment_late, "acknowledge_alarm", "supervisor1")  # 60.000001 s: late
    clock.advance(minutes=5)

    assert stats.fig("alarm_ack_rate", MON) == (1, 3)
    assert stats.numbers("alarm_ack_rate", "numerator", MON) == [on_the_minute.number]
    assert stats.numbers("alarm_ack_rate", "denominator", MON) == [
        on_the_minute.number, a_moment_late.number, never.number]
    assert no_alarm.alarm_raised_at is None
    assert stats.fig("alarm_ack_rate", TUE) == (0, 0)
    assert stats.figures(TUE)["alarm_ack_rate"].rate is None
    assert stats.fig("alarm_ack_rate", MON, channel="phone") == (0, 0)

    # An alarm still within its 60 s is not counted yet; once they pass unanswered, it is.
    fresh = desk.intake(channel="wechat")
    raise_alarm(desk, fresh)
    clock.advance(seconds=30)
    assert stats.fig("alarm_ack_rate", MON) == (1, 3)
    clock.advance(seconds=31)
    assert stats.fig("alarm_ack_rate", MON) == (1, 4)
    desk.act(fresh, "acknowledge_alarm", "dispatcher1")
    assert stats.fig("alarm_ack_rate", MON) == (1, 4)


# ---------------------------------------------------------------- dimensions


def test_each_unit_counts_for_its_own_department(desk, clock, stats):
    t = desk.dispatched()
    desk.act(t, "return", "handler1", reason="属于街道职责")
    desk.act(t, "dispatch", "dispatcher1", lead=PUDONG)
    desk.intake()  # never dispatched: no department

    assert stats.fig("return_rate", MON, department=URBAN) == (1, 1)
    assert stats.fig("return_rate", MON, department=PUDONG) == (0, 1)
    # The ticket itself belongs to its latest lead department.
    assert stats.fig("intake", MON, department=PUDONG) == (1, None)
    assert stats.fig("intake", MON, department=URBAN) == (0, None)
    assert stats.fig("intake", MON, department="none") == (1, None)

    now = clock.now()
    rows = breakdown(stats.session, DateRange(MON, MON), Filters(), now, "department",
                     sort="return_rate")
    raw = breakdown(stats.session, DateRange(MON, MON), Filters(), now, "department",
                    sort="return_rate", source=RAW)
    assert rows == raw
    # One dispatch each: listed, not ranked (fewer than 5); 未派单 last, never ranked.
    assert [(r.rank, r.key, r.figures["return_rate"].rate) for r in rows] == [
        (None, URBAN, 1.0), (None, PUDONG, 0.0), (None, None, None)]
    ranked = metrics_rank(rows, "return_rate", {URBAN: "functional", PUDONG: "territorial"},
                          min_volume=1)
    assert [(r.group, r.rank, r.key) for r in ranked] == [
        ("functional", 1, URBAN), ("territorial", 1, PUDONG), (None, None, None)]
    assert sum(r.tally["dispatches"] for r in rows) == stats.fig("return_rate", MON)[1]


def test_category_filter_takes_the_subtree_and_the_breakdown_goes_one_level_down(desk, stats):
    desk.intake(category=VENDING)
    desk.intake(category="urban")
    desk.intake(category="environment")

    assert stats.fig("intake", MON, category="urban") == (2, None)
    assert stats.fig("intake", MON, category=VENDING) == (1, None)
    assert stats.fig("intake", MON, category="urban.appear") == (0, None)  # not a prefix
    session, now, span = stats.session, stats.clock.now(), DateRange(MON, MON)
    top = breakdown(session, span, Filters(), now, "category")
    assert {r.key: r.tally["intake"] for r in top} == {"urban": 2, "environment": 1}
    below = breakdown(session, span, Filters(category="urban"), now, "category")
    assert {r.key: r.tally["intake"] for r in below} == {"urban.appearance": 1, "urban": 1}
    assert below == breakdown(session, span, Filters(category="urban"), now, "category",
                              source=RAW)


def test_channel_and_type_filters_and_breakdowns(desk, stats):
    desk.intake(channel="wechat", type="consult")
    desk.intake(channel="phone", type="complaint")
    desk.intake(channel="phone", type="complaint")

    assert stats.fig("intake", MON, channel="phone") == (2, None)
    assert stats.fig("intake", MON, type="consult") == (1, None)
    assert stats.fig("intake", MON, channel="phone", type="consult") == (0, None)
    rows = breakdown(stats.session, DateRange(MON, MON), Filters(), stats.clock.now(), "channel")
    assert [(r.rank, r.key, r.tally["intake"]) for r in rows] == [(1, "phone", 2),
                                                                 (2, "wechat", 1)]


# ---------------------------------------------------------------- trends and periods


def test_trend_by_day_week_and_month_adds_up_to_the_period(desk, clock, stats):
    desk.intake()
    set_local(clock, 2026, 11, 30, 9, 0)  # the next Monday
    desk.intake()
    desk.intake()
    set_local(clock, 2026, 12, 1, 9, 0)
    desk.intake()

    span = DateRange(date(2026, 11, 20), date(2026, 12, 2))
    session, now = stats.session, clock.now()
    rollups.refresh(session)
    days = trend(session, span, Filters(), now, "day")
    assert len(days) == 13
    assert [(p.span.start.day, p.figures["intake"].numerator) for p in days
            if p.figures["intake"].numerator] == [(23, 1), (30, 2), (1, 1)]
    assert all("overdue_now" not in p.figures for p in days)
    weeks = trend(session, span, Filters(), now, "week")
    assert [(p.span.start, p.span.end, p.figures["intake"].numerator) for p in weeks] == [
        (date(2026, 11, 20), date(2026, 11, 22), 0),
        (date(2026, 11, 23), date(2026, 11, 29), 1),
        (date(2026, 11, 30), date(2026, 12, 2), 3)]
    months = trend(session, span, Filters(), now, "month", source=RAW)
    assert [(p.span.start, p.span.end, p.figures["intake"].numerator) for p in months] == [
        (date(2026, 11, 20), date(2026, 11, 30), 3), (date(2026, 12, 1), date(2026, 12, 2), 1)]
    assert months == trend(session, span, Filters(), now, "month")


def test_periods_filters_and_drill_down_requests_are_checked():
    with pytest.raises(InvalidInput) as caught:
        DateRange(TUE, MON)
    assert caught.value.field == "to"
    with pytest.raises(InvalidInput):
        DateRange(date(2010, 1, 1), date(2026, 1, 1))
    with pytest.raises(InvalidInput) as caught:
        buckets(DateRange(date(2024, 1, 1), date(2026, 1, 1)), "day")
    assert caught.value.field == "every"
    assert len(buckets(DateRange(date(2024, 1, 1), date(2025, 12, 31)), "month")) == 24


@pytest.mark.parametrize(("metric", "part", "field"), [
    ("speed", "numerator", "metric"),
    ("intake", "denominator", "part"),
    ("completion_rate", "everything", "part"),
])
def test_drill_down_refuses_an_unknown_metric_or_part(session, clock, metric, part, field):
    with pytest.raises(InvalidInput) as caught:
        drill_down(session, DateRange(MON, MON), Filters(), clock.now(), metric, part)
    assert caught.value.field == field


def test_drill_down_pages_through_the_units_in_order(desk, stats):
    made = [desk.intake() for _ in range(5)]
    span, now = DateRange(MON, MON), stats.clock.now()
    rollups.refresh(stats.session)
    pages = [drill_down(stats.session, span, Filters(), now, "intake", page=p, per_page=2)
             for p in (1, 2, 3)]
    assert [p.total for p in pages] == [5, 5, 5]
    assert [[i.number for i in p.items] for p in pages] == [
        [made[0].number, made[1].number], [made[2].number, made[3].number], [made[4].number]]
    assert pages[0].items[0].as_dict()["unit"] == "ticket"
    assert pages[0].items[0].as_dict()["department"] is None


def _row(key: str | None, numerator: int, denominator: int) -> Summary:
    span = DateRange(MON, MON)
    return Summary(span, Filters(), {}, {"completion_rate": Figure(numerator, denominator)},
                   key=key)


def test_rankings_need_five_keep_bureaus_and_streets_apart_and_never_rank_no_department():
    rows = [_row("b1", 9, 10), _row("s1", 8, 10), _row("b2", 4, 4), _row("b3", 5, 6),
            _row("s2", 3, 5), _row(None, 2, 20), _row("x", 1, 9)]  # already in rate order
    kinds = {"b1": "functional", "b2": "functional", "b3": "functional",
             "s1": "territorial", "s2": "territorial"}
    out = metrics_rank(rows, "completion_rate", kinds)
    assert [(r.group, r.rank, r.key) for r in out] == [
        ("functional", 1, "b1"), ("functional", 2, "b3"),
        ("functional", None, "b2"),  # 4 dispatched: listed, not ranked
        ("territorial", 1, "s1"), ("territorial", 2, "s2"),
        (None, 1, "x"),  # a department of no known kind: ranked with the ungrouped
        (None, None, None)]  # 未派单 is not a department
    assert [r.rank for r in metrics_rank(rows[:3], "completion_rate", None)] == [1, 2, None]
