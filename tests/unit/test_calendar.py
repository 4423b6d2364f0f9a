"""The PRC working-day calendar as rows and the pure working-day count (no database).

2026 as the `chinese-calendar` package has it (State Council arrangement):
- Spring Festival: off Sun 02-15 .. Mon 02-23; make-up working days Sat 02-14 and Sat 02-28.
- Mid-autumn and National Day: off Fri 09-25 .. Sun 09-27 and Thu 10-01 .. Wed 10-07;
  make-up working days Sun 09-20 and Sat 10-10.
2027 is not in the package: it gets a provisional, rule-based calendar without make-up days.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from dispatch.core.errors import InvalidInput
from dispatch.tickets.calendar import (
    SOURCE_OFFICIAL,
    SOURCE_PROVISIONAL,
    WorkingCalendar,
    official_rows,
    official_years,
    provisional_rows,
    rows_for_year,
)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _by_day(rows: list[dict]) -> dict[date, dict]:
    return {r["day"]: r for r in rows}


def _calendar(*row_lists: list[dict]) -> WorkingCalendar:
    return WorkingCalendar({
        r["day"]: (r["working"], r["source"]) for rows in row_lists for r in rows
    })


@pytest.fixture(scope="module")
def rows_2026() -> list[dict]:
    return official_rows(2026)


@pytest.fixture(scope="module")
def rows_2027() -> list[dict]:
    return provisional_rows(2027)


@pytest.fixture(scope="module")
def cal_2026(rows_2026: list[dict]) -> WorkingCalendar:
    return _calendar(rows_2026)


# ---------------------------------------------------------------- official rows


def test_the_package_knows_2026_but_not_2027() -> None:
    years = official_years()
    assert 2026 in years
    assert 2027 not in years


def test_official_rows_cover_every_day_of_the_year_once_in_order(rows_2026: list[dict]) -> None:
    assert [r["day"] for r in rows_2026] == _days(date(2026, 1, 1), date(2026, 12, 31))
    assert {r["source"] for r in rows_2026} == {SOURCE_OFFICIAL}


def test_spring_festival_2026_is_off_from_feb_15_to_feb_23(rows_2026: list[dict]) -> None:
    days = _by_day(rows_2026)
    for day in _days(date(2026, 2, 15), date(2026, 2, 23)):
        assert days[day]["working"] is False, day
        assert days[day]["name"], day
    assert days[date(2026, 2, 13)]["working"] is True  # Friday before
    assert days[date(2026, 2, 24)]["working"] is True  # Tuesday after


@pytest.mark.parametrize("makeup", [date(2026, 2, 14), date(2026, 2, 28)])
def test_spring_festival_make_up_saturdays_are_working_days(
    rows_2026: list[dict], makeup: date
) -> None:
    row = _by_day(rows_2026)[makeup]
    assert makeup.weekday() == 5
    assert row["working"] is True
    assert "调休" in row["name"]


def test_national_day_2026_and_mid_autumn_are_off(rows_2026: list[dict]) -> None:
    days = _by_day(rows_2026)
    off = _days(date(2026, 9, 25), date(2026, 9, 27)) + _days(date(2026, 10, 1),
                                                              date(2026, 10, 7))
    for day in off:
        assert days[day]["working"] is False, day
    for day in (date(2026, 9, 28), date(2026, 9, 29), date(2026, 9, 30), date(2026, 10, 8)):
        assert days[day]["working"] is True, day


@pytest.mark.parametrize("makeup", [date(2026, 9, 20), date(2026, 10, 10)])
def test_national_day_make_up_weekend_days_are_working_days(
    rows_2026: list[dict], makeup: date
) -> None:
    assert makeup.weekday() >= 5
    assert _by_day(rows_2026)[makeup]["working"] is True


def test_an_ordinary_weekend_in_2026_is_off(rows_2026: list[dict]) -> None:
    days = _by_day(rows_2026)
    assert days[date(2026, 3, 1)]["working"] is False  # Sunday after the last make-up day
    assert days[date(2026, 11, 28)]["working"] is False
    assert days[date(2026, 11, 29)]["working"] is False


def test_2026_has_248_working_days(rows_2026: list[dict]) -> None:
    # 261 weekdays (2026 starts on a Thursday, 52 weeks + 1 day), minus 19 holidays on
    # weekdays (New Year 2, Spring Festival 6, Qingming 1, Labour 3, Dragon Boat 1,
    # Mid-autumn 1, National Day 5), plus 6 make-up weekend days (01-04, 02-14, 02-28, 05-09,
    # 09-20, 10-10).
    assert sum(r["working"] for r in rows_2026) == 261 - 19 + 6 == 248


# ---------------------------------------------------------------- provisional rows


def test_provisional_rows_cover_2027_and_are_marked_provisional(rows_2027: list[dict]) -> None:
    assert [r["day"] for r in rows_2027] == _days(date(2027, 1, 1), date(2027, 12, 31))
    assert {r["source"] for r in rows_2027} == {SOURCE_PROVISIONAL}


def test_provisional_rows_have_no_make_up_days_and_every_weekend_off(
    rows_2027: list[dict],
) -> None:
    weekend = [r for r in rows_2027 if r["day"].weekday() >= 5]
    assert len(weekend) == 104
    assert not any(r["working"] for r in weekend)


def test_provisional_weekdays_work_unless_a_statutory_holiday(rows_2027: list[dict]) -> None:
    for r in rows_2027:
        if r["day"].weekday() < 5:
            assert r["working"] is (r["name"] is None), r


def test_provisional_2027_spring_festival_and_national_day_are_off(rows_2027: list[dict]) -> None:
    days = _by_day(rows_2027)
    for day in _days(date(2027, 2, 6), date(2027, 2, 10)) + _days(date(2027, 10, 1),
                                                                  date(2027, 10, 5)):
        assert days[day]["working"] is False, day
        assert days[day]["name"], day
    assert days[date(2027, 1, 1)]["working"] is False  # New Year's Day, a Friday
    assert days[date(2027, 3, 3)] == {"day": date(2027, 3, 3), "working": True,
                                      "source": SOURCE_PROVISIONAL, "name": None}


# ---------------------------------------------------------------- rows_for_year


def test_rows_for_a_known_year_are_the_official_ones(rows_2026: list[dict]) -> None:
    assert rows_for_year(2026) == rows_2026


def test_rows_for_an_unknown_year_are_provisional(rows_2027: list[dict]) -> None:
    assert rows_for_year(2027) == rows_2027


@pytest.mark.parametrize("year", [2000, 2100])
def test_rows_for_year_accepts_the_bounds(year: int) -> None:
    rows = rows_for_year(year)
    assert rows[0]["day"] == date(year, 1, 1)
    assert rows[-1]["day"] == date(year, 12, 31)


@pytest.mark.parametrize("year", [1999, 2101, 0, -5, 20260])
def test_rows_for_year_refuses_years_outside_2000_to_2100(year: int) -> None:
    with pytest.raises(InvalidInput) as refused:
        rows_for_year(year)
    assert refused.value.field == "year"
    assert str(year) in refused.value.message


# ---------------------------------------------------------------- counting working days


def test_one_working_day_after_friday_before_spring_festival_is_the_make_up_saturday(
    cal_2026: WorkingCalendar,
) -> None:
    assert cal_2026.add_working_days(date(2026, 2, 13), 1) == (date(2026, 2, 14), False)


def test_the_second_working_day_after_feb_13_is_after_the_whole_festival(
    cal_2026: WorkingCalendar,
) -> None:
    assert cal_2026.add_working_days(date(2026, 2, 13), 2) == (date(2026, 2, 24), False)


def test_seven_working_days_across_the_spring_festival(cal_2026: WorkingCalendar) -> None:
    # From Fri 02-13 (not counted): Sat 02-14 (1, make-up), 02-15..02-23 off, Tue 02-24 (2),
    # Wed 25 (3), Thu 26 (4), Fri 27 (5), Sat 02-28 (6, make-up), Sun 03-01 off, Mon 03-02 (7).
    assert cal_2026.add_working_days(date(2026, 2, 13), 7) == (date(2026, 3, 2), False)


def test_counting_from_a_holiday_starts_with_the_next_working_day(
    cal_2026: WorkingCalendar,
) -> None:
    assert cal_2026.add_working_days(date(2026, 2, 17), 1) == (date(2026, 2, 24), False)
    # From the make-up Saturday itself (not counted), the next working day is after the festival.
    assert cal_2026.add_working_days(date(2026, 2, 14), 1) == (date(2026, 2, 24), False)


def test_counting_across_national_day(cal_2026: WorkingCalendar) -> None:
    # From Wed 09-23: Thu 09-24 (1), 09-25..09-27 off, Mon 28 (2), Tue 29 (3), Wed 30 (4),
    # 10-01..10-07 off, Thu 10-08 (5), Fri 10-09 (6), Sat 10-10 (7, make-up).
    assert cal_2026.add_working_days(date(2026, 9, 23), 7) == (date(2026, 10, 10), False)
    # A make-up Sunday counts: one working day after Fri 09-18 is Sun 09-20.
    assert cal_2026.add_working_days(date(2026, 9, 18), 1) == (date(2026, 9, 20), False)


def test_an_ordinary_week_skips_the_weekend(cal_2026: WorkingCalendar) -> None:
    # Mon 2026-11-23 + 5 working days: Tue, Wed, Thu, Fri, Mon 11-30.
    assert cal_2026.add_working_days(date(2026, 11, 23), 5) == (date(2026, 11, 30), False)


def test_crossing_into_a_provisional_year_is_flagged(
    rows_2026: list[dict], rows_2027: list[dict]
) -> None:
    cal = _calendar(rows_2026, rows_2027)
    # Thu 2026-12-31 + 1: Fri 2027-01-01 is New Year's Day, then a weekend: Mon 2027-01-04.
    assert cal.add_working_days(date(2026, 12, 31), 1) == (date(2027, 1, 4), True)
    # Staying inside 2026 is not provisional even when 2027 is loaded.
    assert cal.add_working_days(date(2026, 12, 30), 1) == (date(2026, 12, 31), False)


def test_provisional_2027_spring_festival_has_no_make_up_day(rows_2027: list[dict]) -> None:
    cal = _calendar(rows_2027)
    # From Thu 2027-02-04: 02-05 (eve) .. 02-10 off under the rule-based calendar, so the
    # first working day is Thu 02-11; no Saturday is worked.
    assert cal.add_working_days(date(2027, 2, 4), 1) == (date(2027, 2, 11), True)


@pytest.mark.parametrize("count", [0, -1])
def test_a_count_below_one_is_refused(cal_2026: WorkingCalendar, count: int) -> None:
    with pytest.raises(ValueError):
        cal_2026.add_working_days(date(2026, 3, 2), count)
