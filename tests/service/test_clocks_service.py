"""Deadlines, warnings and time-limit settings against the calendar in the database.

Runs on SQLite and PostgreSQL (the `session` fixture). The demo data has no calendar rows:
every year a computation needs is filled in lazily from `dispatch.tickets.calendar`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from dispatch.core.errors import InvalidInput
from dispatch.core.models import CalendarDay, Setting, User
from dispatch.core.vocab import RequestType, Urgency
from dispatch.tickets.calendar import (
    SOURCE_ADMIN,
    SOURCE_PROVISIONAL,
    set_official_year,
    year_summary,
)
from dispatch.tickets.clocks import (
    Limit,
    TimeLimits,
    add_working_days,
    deadline_after,
    get_time_limits,
    set_time_limits,
    warning_time,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Mon 2026-11-23 10:00 local


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def end_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=SHANGHAI)


def _rows_in(session: Session, year: int, source: str | None = None) -> int:
    query = select(func.count()).select_from(CalendarDay).where(
        CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))
    if source is not None:
        query = query.where(CalendarDay.source == source)
    return session.scalar(query)


def _admin_id(session: Session) -> int:
    return session.scalar(select(User.id).where(User.username == "admin1"))


# ---------------------------------------------------------------- defaults


def test_the_default_time_limits_are_those_of_domain_md(session: Session) -> None:
    limits = get_time_limits(session)
    minutes, hours, days = "minutes", "hours", "working_days"
    expected = {
        "sign": {"critical": (minutes, 30), "urgent": (hours, 2), "normal": (hours, 24)},
        "short": {"critical": (hours, 24), "urgent": (days, 2), "normal": (days, 3)},
        "long": {"critical": (hours, 24), "urgent": (days, 3), "normal": (days, 7)},
        "callback": {"critical": (days, 1), "urgent": (days, 1), "normal": (days, 1)},
    }
    for urgency in Urgency:
        assert (limits.sign_limit(urgency).unit, limits.sign_limit(urgency).value) \
            == expected["sign"][urgency]
        for kind, request_type in (("short", RequestType.CONSULT), ("short", RequestType.HELP),
                                   ("short", RequestType.PRAISE),
                                   ("long", RequestType.COMPLAINT),
                                   ("long", RequestType.REPORT),
                                   ("long", RequestType.SUGGESTION)):
            got = limits.complete_limit(request_type, urgency)
            assert (got.unit, got.value) == expected[kind][urgency], (request_type, urgency)
        callback = getattr(limits.callback, urgency)
        assert (callback.unit, callback.value) == expected["callback"][urgency]
    assert limits.warning_ratio == 0.75
    assert limits.max_extensions == 2
    assert limits.max_extension_days == 7
    assert limits.supervision_overdue_days == 5
    assert limits.callback_max_attempts == 3


# ---------------------------------------------------------------- working-day deadlines


def test_a_normal_complaint_dispatched_before_spring_festival_is_due_on_march_2(
    session: Session,
) -> None:
    # Dispatched Fri 2026-02-13 15:00 local; 7 working days, the day itself not counted:
    #   Sat 02-14 make-up day (1); Sun 02-15 .. Mon 02-23 Spring Festival off;
    #   Tue 02-24 (2), Wed 02-25 (3), Thu 02-26 (4), Fri 02-27 (5);
    #   Sat 02-28 make-up day (6); Sun 03-01 off; Mon 03-02 (7).
    # Due Mon 2026-03-02 23:59:59 Asia/Shanghai = 15:59:59 UTC.
    limit = get_time_limits(session).complete_limit(RequestType.COMPLAINT, Urgency.NORMAL)
    deadline = deadline_after(session, local(2026, 2, 13, 15, 0), limit)
    assert deadline.at == datetime(2026, 3, 2, 15, 59, 59, tzinfo=UTC)
    assert deadline.at.astimezone(SHANGHAI).isoformat() == "2026-03-02T23:59:59+08:00"
    assert deadline.provisional is False


def test_a_normal_consultation_counts_the_make_up_saturday(session: Session) -> None:
    # 3 working days from Fri 02-13: Sat 02-14 (1), Tue 02-24 (2), Wed 02-25 (3).
    limit = get_time_limits(session).complete_limit(RequestType.CONSULT, Urgency.NORMAL)
    deadline = deadline_after(session, local(2026, 2, 13, 15, 0), limit)
    assert deadline.at == end_of(date(2026, 2, 25))


def test_a_complaint_dispatched_before_national_day_is_due_on_the_make_up_saturday(
    session: Session,
) -> None:
    # From Wed 2026-09-23: Thu 09-24 (1); Fri 09-25 .. Sun 09-27 off; Mon 09-28 (2),
    # Tue 09-29 (3), Wed 09-30 (4); 10-01 .. 10-07 off; Thu 10-08 (5), Fri 10-09 (6),
    # Sat 10-10 make-up day (7).
    deadline = deadline_after(session, local(2026, 9, 23, 9, 0), Limit(unit="working_days",
                                                                        value=7))
    assert deadline.at == end_of(date(2026, 10, 10))
    assert deadline.provisional is False


def test_an_urgent_consultation_on_the_eve_of_national_day_waits_for_the_holiday(
    session: Session,
) -> None:
    # 2 working days from Wed 09-30: Thu 10-08 (1), Fri 10-09 (2).
    limit = get_time_limits(session).complete_limit(RequestType.CONSULT, Urgency.URGENT)
    deadline = deadline_after(session, local(2026, 9, 30, 16, 0), limit)
    assert deadline.at == end_of(date(2026, 10, 9))


def test_a_make_up_sunday_before_national_day_is_a_working_day(session: Session) -> None:
    assert add_working_days(session, local(2026, 9, 18, 11, 0), 1).at == end_of(
        date(2026, 9, 20))


def test_working_days_count_from_the_local_day_not_the_utc_day(session: Session) -> None:
    # 17:00 UTC on Mon 11-23 is already Tue 11-24 01:00 in Shanghai: one working day later is
    # Wed 11-25, not Tue 11-24.
    deadline = add_working_days(session, datetime(2026, 11, 23, 17, 0, tzinfo=UTC), 1)
    assert deadline.at == end_of(date(2026, 11, 25))


def test_an_ordinary_week_from_the_fixture_start(session: Session) -> None:
    # Mon 11-23 10:00 local + 3 working days: Tue, Wed, Thu 11-26.
    deadline = add_working_days(session, START, 3)
    assert deadline.at == end_of(date(2026, 11, 26))
    assert deadline.at == datetime(2026, 11, 26, 15, 59, 59, tzinfo=UTC)


# ---------------------------------------------------------------- hour limits


def test_an_urgent_ticket_must_be_signed_for_within_two_calendar_hours(session: Session) -> None:
    limit = get_time_limits(session).sign_limit(Urgency.URGENT)
    assert deadline_after(session, START, limit).at == START + timedelta(hours=2)


def test_a_critical_ticket_must_be_signed_for_within_thirty_minutes(session: Session) -> None:
    limit = get_time_limits(session).sign_limit(Urgency.CRITICAL)
    deadline = deadline_after(session, START, limit)
    assert deadline.at == datetime(2026, 11, 23, 2, 30, tzinfo=UTC)
    assert deadline.provisional is False


def test_hour_limits_are_calendar_hours_that_run_through_holidays_and_weekends(
    session: Session,
) -> None:
    limits = get_time_limits(session)
    critical = limits.complete_limit(RequestType.COMPLAINT, Urgency.CRITICAL)
    assert deadline_after(session, local(2026, 9, 30, 20, 0), critical).at == local(
        2026, 10, 1, 20, 0)
    sign = limits.sign_limit(Urgency.NORMAL)
    assert deadline_after(session, local(2026, 11, 27, 18, 0), sign).at == local(
        2026, 11, 28, 18, 0)  # Friday evening → Saturday evening


# ---------------------------------------------------------------- warnings


def test_the_warning_comes_at_three_quarters_of_an_hour_clock(session: Session) -> None:
    limits = get_time_limits(session)
    deadline = deadline_after(session, START, limits.sign_limit(Urgency.URGENT))
    warn = warning_time(START, deadline.at, limits.warning_ratio)
    assert warn == START + timedelta(minutes=90)


def test_the_warning_comes_at_three_quarters_of_a_working_day_clock(session: Session) -> None:
    # Fri 02-13 07:00 UTC → Mon 03-02 15:59:59 UTC is 17 days 08:59:59 = 1,501,199 s;
    # 75 % is 1,125,899.25 s = 13 days 00:44:59.25 → Thu 2026-02-26 07:44:59.25 UTC.
    start = local(2026, 2, 13, 15, 0)
    limits = get_time_limits(session)
    deadline = deadline_after(session, start, limits.complete_limit(RequestType.COMPLAINT,
                                                                    Urgency.NORMAL))
    warn = warning_time(start, deadline.at, limits.warning_ratio)
    assert warn == datetime(2026, 2, 26, 7, 44, 59, 250000, tzinfo=UTC)
    assert start < warn < deadline.at


# ---------------------------------------------------------------- provisional years


def test_a_deadline_running_into_2027_works_and_is_provisional(session: Session) -> None:
    assert _rows_in(session, 2027) == 0
    # From Wed 2026-12-23: Thu 12-24 (1), Fri 12-25 (2), Mon 12-28 (3), Tue 12-29 (4),
    # Wed 12-30 (5), Thu 12-31 (6); Fri 2027-01-01 New Year's Day, weekend; Mon 01-04 (7).
    deadline = deadline_after(session, local(2026, 12, 23, 10, 0),
                              Limit(unit="working_days", value=7))
    assert deadline.at == end_of(date(2027, 1, 4))
    assert deadline.provisional is True
    # 2027 was filled in on the way, marked provisional.
    assert _rows_in(session, 2027) == 365
    assert _rows_in(session, 2027, SOURCE_PROVISIONAL) == 365
    assert year_summary(session, 2027)["provisional"] is True


def test_a_deadline_within_2026_is_not_provisional_even_with_2027_loaded(
    session: Session,
) -> None:
    deadline = add_working_days(session, local(2026, 12, 21, 10, 0), 3)
    assert _rows_in(session, 2027) == 365  # the counting window reached into January
    assert deadline.at == end_of(date(2026, 12, 24))
    assert deadline.provisional is False


def test_the_calendar_is_filled_in_once_per_year(session: Session) -> None:
    add_working_days(session, local(2026, 12, 23, 10, 0), 7)
    add_working_days(session, local(2026, 12, 28, 10, 0), 7)
    session.flush()
    assert _rows_in(session, 2026) == 365
    assert _rows_in(session, 2027) == 365


def test_once_2027_is_official_a_recomputed_deadline_is_no_longer_provisional(
    session: Session,
) -> None:
    start = local(2026, 12, 23, 10, 0)
    before = add_working_days(session, start, 7)
    assert before.provisional is True
    set_official_year(session, 2027,
                      holidays={date(2027, 1, 1): "元旦", date(2027, 1, 2): "元旦",
                                date(2027, 1, 3): "元旦"},
                      makeup_workdays={})
    after = add_working_days(session, start, 7)
    assert after.at == end_of(date(2027, 1, 4))
    assert after.provisional is False
    assert _rows_in(session, 2027, SOURCE_ADMIN) == 365
    summary = year_summary(session, 2027)
    assert summary["provisional"] is False
    assert summary["sources"] == [SOURCE_ADMIN]


def test_an_official_make_up_day_moves_a_recomputed_deadline(session: Session) -> None:
    start = local(2026, 12, 23, 10, 0)
    assert add_working_days(session, start, 7).at == end_of(date(2027, 1, 4))
    # A (hypothetical) arrangement that works Sat 2027-01-02: it becomes the 7th working day.
    set_official_year(session, 2027, holidays={date(2027, 1, 1): "元旦"},
                      makeup_workdays={date(2027, 1, 2): "元旦 调休上班"})
    after = add_working_days(session, start, 7)
    assert after.at == end_of(date(2027, 1, 2))
    assert after.provisional is False


WRONG_ARRANGEMENTS = [
    # year, holidays, make-up working days, the field named in the refusal
    (1999, {}, {}, "year"),
    (2027, {date(2026, 12, 31): "x"}, {}, "holidays"),
    (2027, {}, {date(2028, 1, 1): "x"}, "makeup_workdays"),
    (2027, {}, {date(2027, 1, 4): "Monday"}, "makeup_workdays"),
    (2027, {date(2027, 1, 2): "x"}, {date(2027, 1, 2): "x"}, "makeup_workdays"),
]


def test_a_wrong_official_arrangement_is_refused_naming_the_field_and_changes_nothing(
    session: Session,
) -> None:
    add_working_days(session, local(2026, 12, 23, 10, 0), 7)  # loads 2027 provisionally
    for year, holidays, makeup, field in WRONG_ARRANGEMENTS:
        with pytest.raises(InvalidInput) as refused:
            set_official_year(session, year, holidays, makeup)
        assert refused.value.field == field, (year, holidays, makeup)
        assert _rows_in(session, 2027, SOURCE_PROVISIONAL) == 365


# ---------------------------------------------------------------- time-limit settings


def _sign(critical: tuple[str, int]) -> dict:
    return {"critical": {"unit": critical[0], "value": critical[1]},
            "urgent": {"unit": "hours", "value": 2}, "normal": {"unit": "hours", "value": 24}}


INVALID_CHANGES = [
    ({"warning_ratio": 1.5}, "warning_ratio"),
    ({"warning_ratio": 0}, "warning_ratio"),
    ({"sign": _sign(("weeks", 1))}, "sign.critical.unit"),
    ({"sign": _sign(("minutes", 0))}, "sign.critical.value"),
    ({"max_extensions": -1}, "max_extensions"),
    ({"lunch_break": 60}, "lunch_break"),
]


def test_an_invalid_time_limit_change_is_refused_naming_the_field_and_writes_nothing(
    session: Session,
) -> None:
    for change, field in INVALID_CHANGES:
        with pytest.raises(InvalidInput) as refused:
            set_time_limits(session, change, actor_id=_admin_id(session))
        assert refused.value.field == field, change
        assert refused.value.message.startswith(field), change
        session.flush()
        assert session.scalar(select(func.count()).select_from(Setting)) == 0, change
        assert get_time_limits(session) == TimeLimits(), change


def test_a_valid_change_is_stored_and_read_back(session: Session, engine: Engine) -> None:
    admin = _admin_id(session)
    stored = set_time_limits(session, {"warning_ratio": 0.8, "sign": _sign(("minutes", 20))},
                             actor_id=admin)
    session.commit()
    assert stored.warning_ratio == 0.8
    with Session(engine) as fresh:
        limits = get_time_limits(fresh)
        row = fresh.get(Setting, "time_limits")
        assert row is not None and row.updated_by_id == admin
    assert limits == stored
    assert limits.warning_ratio == 0.8
    assert limits.sign_limit(Urgency.CRITICAL) == Limit(unit="minutes", value=20)
    # What was not named keeps its default.
    assert limits.complete_limit(RequestType.COMPLAINT, Urgency.NORMAL) == Limit(
        unit="working_days", value=7)
    assert limits.short_types == TimeLimits().short_types
    # Clocks started from now on use the new limit.
    assert deadline_after(session, START, limits.sign_limit(Urgency.CRITICAL)).at == (
        START + timedelta(minutes=20))


def test_a_refused_change_keeps_the_previous_valid_one(session: Session) -> None:
    set_time_limits(session, {"warning_ratio": 0.9}, actor_id=None)
    session.flush()
    with pytest.raises(InvalidInput):
        set_time_limits(session, {"warning_ratio": 2}, actor_id=None)
    session.flush()
    assert get_time_limits(session).warning_ratio == 0.9


def test_a_change_replaces_the_whole_setting_and_omitted_fields_take_defaults(
    session: Session,
) -> None:
    set_time_limits(session, {"warning_ratio": 0.9}, actor_id=None)
    session.flush()
    set_time_limits(session, {"max_extensions": 1}, actor_id=_admin_id(session))
    session.flush()
    assert session.scalar(select(func.count()).select_from(Setting)) == 1
    limits = get_time_limits(session)
    assert limits.max_extensions == 1
    # PUT semantics: what the second change left out is back to the shipped default.
    assert limits.warning_ratio == 0.75
