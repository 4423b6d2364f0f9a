"""Periodic lists (周巡检, 月点评, 季通报): what counts as overdue, reopened and supervised in a
period, by department, and where periods begin and end."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from dispatch.stats.reports import (
    Clock,
    Ending,
    PeriodKind,
    build_list,
    due_kinds,
    period_for,
    period_starting,
)
from dispatch.tickets.calendar import LOCAL_TZ
from tests.service.conftest import PUDONG, URBAN


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


def set_local(clock, *args: int) -> None:
    clock.current = local(*args)


@pytest.fixture
def history(desk, clock):
    """A week of two departments (clock starts Monday 2026-11-23 10:00): an overdue sign
    (城管), an overdue completion (蒲东), a reopened ticket (城管), a supervised one (蒲东);
    everything else on time."""
    late_sign = desk.dispatched()
    late_complete = desk.intake(type="consult", urgency="urgent")  # 2 h / 2 working days
    desk.act(late_complete, "dispatch", "dispatcher1", lead=PUDONG)
    desk.act(late_complete, "sign", "street1")
    reopened = desk.reviewed()
    supervised = desk.intake()
    desk.act(supervised, "dispatch", "dispatcher1", lead=PUDONG)
    desk.act(supervised, "sign", "street1")

    set_local(clock, 2026, 11, 24, 13, 0)  # sign deadline was Tue 10:00
    desk.act(late_sign, "sign", "handler1")
    set_local(clock, 2026, 11, 25, 15, 0)
    desk.act(supervised, "supervise", "supervisor1", reason="群众反映强烈，列入督办")
    set_local(clock, 2026, 11, 26, 9, 0)
    desk.act(reopened, "callback", "operator1", satisfaction="dissatisfied", resolved=False)
    set_local(clock, 2026, 11, 27, 9, 0)  # completion deadline was Wed 23:59:59
    desk.act(late_complete, "complete", "street1", result="已处理")
    set_local(clock, 2026, 11, 30, 8, 0)
    return {"late_sign": late_sign, "late_complete": late_complete, "reopened": reopened,
            "supervised": supervised}


def test_the_weekly_list_holds_exactly_the_missed_deadlines_reopens_and_supervisions(
        session, desk, clock, directory, history):
    week = period_for("week", date(2026, 11, 30))
    plist = build_list(session, week, clock.now(), directory)

    rows = {(r.ticket_number, r.clock): r for r in plist.overdue}
    assert set(rows) == {(history["late_sign"].number, Clock.SIGN),
                         (history["late_complete"].number, Clock.COMPLETE)}
    sign = rows[(history["late_sign"].number, Clock.SIGN)]
    assert (sign.department_code, sign.role, sign.ending) == (URBAN, "lead", Ending.LATE)
    assert sign.deadline == local(2026, 11, 24, 10, 0)
    assert sign.stopped_at == local(2026, 11, 24, 13, 0)
    assert (sign.late_hours, sign.late_working_days, sign.status) == (3.0, 0, "SIGNED")
    assert sign.department_name == directory.department(URBAN).name
    assert sign.category_name and sign.category_name.startswith("城市管理")

    complete = rows[(history["late_complete"].number, Clock.COMPLETE)]
    assert (complete.department_code, complete.ending) == (PUDONG, Ending.LATE)
    assert complete.deadline == local(2026, 11, 25, 23, 59, 59)
    # Wed 23:59:59 → Fri 09:00: 33 hours; Thursday is the one whole working day between.
    assert (complete.late_hours, complete.late_working_days) == (33.0, 1)
    assert complete.status == "COMPLETED"

    assert [(r.ticket_number, r.department_code, r.satisfaction, r.resolved, r.status)
            for r in plist.reopened] == [
        (history["reopened"].number, URBAN, "dissatisfied", False, "REOPENED")]
    assert [(r.ticket_number, r.department_code, r.automatic, r.at)
            for r in plist.supervised] == [
        (history["supervised"].number, PUDONG, False, local(2026, 11, 25, 15, 0))]
    assert plist.supervised[0].deadline is not None

    assert [(d.rank, d.department_code, d.overdue, d.sign_overdue, d.complete_overdue,
             d.reopened, d.supervised) for d in plist.departments] == [
        (1, URBAN, 1, 1, 0, 1, 0),
        (2, PUDONG, 1, 0, 1, 0, 1),
    ]


def test_the_week_before_is_empty_and_the_week_after_lists_completions_still_open(
        session, clock, directory, history):
    now = local(2026, 12, 7, 8, 0)
    before = build_list(session, period_for("week", date(2026, 11, 23)), now, directory)
    assert (before.overdue, before.reopened, before.supervised, before.departments) == \
        ((), (), (), ())
    after = build_list(session, period_for("week", date(2026, 12, 7)), now, directory)
    # Completion deadlines of Wed 2 December: two tickets still being handled on 7 December.
    assert sorted((r.ticket_number, r.clock, r.ending, r.late_working_days)
                  for r in after.overdue) == sorted([
        (history["late_sign"].number, Clock.COMPLETE, Ending.OPEN, 2),
        (history["supervised"].number, Clock.COMPLETE, Ending.OPEN, 2)])
    assert (after.reopened, after.supervised) == ((), ())


def test_ranking_puts_the_department_with_most_overdue_first(session, desk, clock,
                                                             directory):
    for _ in range(2):
        t = desk.intake()
        desk.act(t, "dispatch", "dispatcher1", lead=PUDONG)
    desk.dispatched()
    plist = build_list(session, period_for("week", date(2026, 11, 30)),
                       local(2026, 11, 30, 8, 0), directory)
    assert [(d.department_code, d.sign_overdue) for d in plist.departments] == [
        (PUDONG, 2), (URBAN, 1)]
    assert {r.ending for r in plist.overdue} == {Ending.OPEN}


def test_a_deadline_on_sunday_2359_is_in_the_week_and_one_at_monday_0000_is_not(
        session, desk, clock, directory):
    set_local(clock, 2026, 11, 28, 23, 59, 59)  # sign for within 24 h: Sun 23:59:59
    inside = desk.dispatched()
    set_local(clock, 2026, 11, 29, 0, 0, 0)  # Mon 30 00:00:00
    outside = desk.dispatched()
    now = local(2026, 11, 30, 1, 0)

    week = build_list(session, period_for("week", date(2026, 11, 30)), now, directory)
    assert [(r.ticket_number, r.clock, r.ending) for r in week.overdue] == [
        (inside.number, Clock.SIGN, Ending.OPEN)]
    assert week.overdue[0].deadline == local(2026, 11, 29, 23, 59, 59)
    assert week.overdue[0].late_hours == 1.0

    later = local(2026, 12, 7, 8, 0)
    following = build_list(session, period_for("week", date(2026, 12, 7)), later, directory)
    assert [(r.ticket_number, r.clock) for r in following.overdue] == [
        (outside.number, Clock.SIGN)]


def test_a_deadline_not_yet_passed_is_not_overdue(session, desk, clock, directory):
    desk.dispatched()  # sign deadline Tue 24 10:00
    week = period_for("week", date(2026, 11, 30))
    assert build_list(session, week, local(2026, 11, 24, 9, 0), directory).overdue == ()
    assert len(build_list(session, week, local(2026, 11, 24, 11, 0), directory).overdue) == 1


@pytest.mark.parametrize(("kind", "day", "start", "end"), [
    ("week", date(2026, 11, 23), date(2026, 11, 16), date(2026, 11, 22)),
    ("week", date(2026, 11, 29), date(2026, 11, 16), date(2026, 11, 22)),
    ("week", date(2027, 1, 4), date(2026, 12, 28), date(2027, 1, 3)),
    ("week", date(2027, 1, 1), date(2026, 12, 21), date(2026, 12, 27)),
    ("month", date(2026, 12, 1), date(2026, 11, 1), date(2026, 11, 30)),
    ("month", date(2027, 1, 15), date(2026, 12, 1), date(2026, 12, 31)),
    ("month", date(2026, 3, 1), date(2026, 2, 1), date(2026, 2, 28)),
    ("quarter", date(2027, 1, 1), date(2026, 10, 1), date(2026, 12, 31)),
    ("quarter", date(2026, 5, 20), date(2026, 1, 1), date(2026, 3, 31)),
    ("quarter", date(2026, 7, 1), date(2026, 4, 1), date(2026, 6, 30)),
])
def test_period_for_is_the_last_complete_period_before_the_day(kind, day, start, end):
    period = period_for(kind, day)
    assert (period.kind, period.start, period.end) == (PeriodKind(kind), start, end)
    assert period_starting(kind, start) == period


@pytest.mark.parametrize(("kind", "start"), [
    ("week", date(2026, 11, 17)), ("month", date(2026, 11, 2)),
    ("quarter", date(2026, 2, 1)), ("year", date(2026, 1, 1)),
])
def test_period_starting_refuses_a_day_no_period_starts_on(kind, start):
    with pytest.raises(ValueError):
        period_starting(kind, start)


@pytest.mark.parametrize(("day", "kinds"), [
    (date(2026, 11, 23), ["week"]),
    (date(2026, 11, 24), []),
    (date(2026, 12, 1), ["month"]),
    (date(2027, 1, 1), ["month", "quarter"]),
    (date(2026, 6, 1), ["week", "month"]),
    (date(2026, 10, 1), ["month", "quarter"]),
])
def test_due_kinds_follow_the_calendar(day, kinds):
    assert due_kinds(day) == kinds
