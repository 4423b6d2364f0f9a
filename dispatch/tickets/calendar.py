"""The PRC working-day calendar as data: seeding, provisional years, official arrangements.

Known years come from the `chinese-calendar` package (holidays and make-up working days, 调休).
Years it does not know get a provisional calendar from the `holidays` package (statutory and
lunar holidays, no make-up days) until an administrator enters the State Council's arrangement.
Clocks only ever read the `calendar_days` table; a missing year is filled in before it is read,
so a deadline computation never fails for want of a year. A year's rows are read once per
transaction (`dispatch.core.memo`): a batch of dispatches in one transaction reads them once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import holidays as holidays_lib
from chinese_calendar import constants as cc_constants
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dispatch.core.audit import record_change
from dispatch.core.db import insert_ignoring_duplicates
from dispatch.core.errors import InvalidInput
from dispatch.core.memo import memo
from dispatch.core.models import CalendarDay

LOCAL_TZ = ZoneInfo("Asia/Shanghai")

SOURCE_OFFICIAL = "official"  # from the chinese-calendar package
SOURCE_PROVISIONAL = "provisional"  # rule-based, no make-up days yet
SOURCE_ADMIN = "admin"  # entered or imported by an administrator

MIN_YEAR, MAX_YEAR = 2000, 2100
SAMPLE_TICKETS = 10  # ticket numbers a preview lists


@cache
def official_years() -> frozenset[int]:
    """Years for which the chinese-calendar package has the State Council's arrangement."""
    return frozenset(d.year for d in cc_constants.holidays)


def _year_days(year: int) -> Iterable[date]:
    day = date(year, 1, 1)
    while day.year == year:
        yield day
        day += timedelta(days=1)


def _chinese_name(english: str) -> str:
    try:
        return cc_constants.Holiday(english).chinese
    except ValueError:
        return english


def official_rows(year: int) -> list[dict[str, Any]]:
    """Calendar rows for a year the chinese-calendar package knows."""
    rows: list[dict[str, Any]] = []
    for day in _year_days(year):
        working = chinese_calendar.is_workday(day)
        name = None
        if day in cc_constants.holidays:
            name = _chinese_name(cc_constants.holidays[day])
        elif day in cc_constants.workdays:
            name = f"{_chinese_name(cc_constants.workdays[day])}调休上班"
        rows.append({"day": day, "working": working, "source": SOURCE_OFFICIAL, "name": name})
    return rows


def provisional_rows(year: int) -> list[dict[str, Any]]:
    """Rule-based rows for a year not yet published: weekends and statutory holidays off."""
    statutory = holidays_lib.country_holidays("CN", years=year, language="zh_CN")
    rows: list[dict[str, Any]] = []
    for day in _year_days(year):
        name = statutory.get(day)
        working = day.weekday() < 5 and name is None
        rows.append({"day": day, "working": working, "source": SOURCE_PROVISIONAL, "name": name})
    return rows


def rows_for_year(year: int) -> list[dict[str, Any]]:
    """The best rows this installation can produce for a year on its own."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidInput(f"year: 日历年份 {year} 不在 {MIN_YEAR}–{MAX_YEAR} 之内", field="year")
    return [dict(row) for row in _rows_for_year(year)]


@cache
def _rows_for_year(year: int) -> tuple[MappingProxyType[str, Any], ...]:
    """A year's rows as the packages give them, made once per process (the packages' data
    does not change while it runs; a year's rows took tens of milliseconds to make)."""
    rows = official_rows(year) if year in official_years() else provisional_rows(year)
    return tuple(MappingProxyType(row) for row in rows)


def ensure_years(session: Session, years: Iterable[int]) -> None:
    """Fill in every missing year (concurrent callers are safe: duplicates are skipped)."""
    wanted = set(years)
    if not wanted:
        return
    present = {
        d.year
        for d in session.scalars(
            select(CalendarDay.day).where(CalendarDay.day.in_([date(y, 1, 1) for y in wanted]))
        )
    }
    for year in sorted(wanted - present):
        insert_ignoring_duplicates(session, CalendarDay.__table__, rows_for_year(year))


def seed_calendar(session: Session, first_year: int, last_year: int) -> None:
    """Seed a span of years (used by `hotline db upgrade` and the demo loader)."""
    ensure_years(session, range(first_year, last_year + 1))


@dataclass(frozen=True)
class WorkingCalendar:
    """A loaded slice of the calendar: day → (working, source)."""

    days: dict[date, tuple[bool, str]]

    def add_working_days(self, start: date, count: int) -> tuple[date, bool]:
        """The `count`-th working day after `start` (not counting it) and whether any day
        crossed is provisional."""
        if count < 1:
            raise ValueError("count must be at least 1")
        day, found, provisional = start, 0, False
        while found < count:
            day += timedelta(days=1)
            working, source = self.days[day]
            provisional = provisional or source == SOURCE_PROVISIONAL
            if working:
                found += 1
        return day, provisional


def calendar_year(session: Session, year: int) -> Mapping[date, tuple[bool, str]]:
    """A year's days (day → (working, source)), filled in if missing; read once per
    transaction."""

    def read() -> Mapping[date, tuple[bool, str]]:
        ensure_years(session, [year])
        rows = session.execute(
            select(CalendarDay.day, CalendarDay.working, CalendarDay.source).where(
                CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)
            )
        )
        return MappingProxyType({d: (w, s) for d, w, s in rows})

    return memo(session, ("calendar_year", year), (CalendarDay,), read)


def load_calendar(session: Session, start: date, working_days: int) -> WorkingCalendar:
    """Load enough of the calendar after `start` to count `working_days`, filling years in."""
    span = working_days * 2 + 30  # the longest holiday run is 8–9 days; this is ample
    while True:
        end = start + timedelta(days=span)
        days: dict[date, tuple[bool, str]] = {}
        for year in range(start.year, end.year + 1):
            rows = calendar_year(session, year)
            day = max(start + timedelta(days=1), date(year, 1, 1))
            last = min(end, date(year, 12, 31))
            while day <= last:
                if day in rows:
                    days[day] = rows[day]
                day += timedelta(days=1)
        if sum(1 for w, _ in days.values() if w) >= working_days:
            return WorkingCalendar(days)
        span *= 2


def year_summary(session: Session, year: int) -> dict[str, Any]:
    """What the admin page shows for a year: its source and its days off and make-up days."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidInput(f"year: 日历年份 {year} 不在 {MIN_YEAR}–{MAX_YEAR} 之内", field="year")
    ensure_years(session, [year])
    rows = session.execute(
        select(CalendarDay).where(
            CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)
        ).order_by(CalendarDay.day)
    ).scalars().all()
    sources = sorted({r.source for r in rows})
    return {
        "year": year,
        "provisional": SOURCE_PROVISIONAL in sources,
        "sources": sources,
        "holidays": [
            {"day": r.day.isoformat(), "name": r.name} for r in rows
            if not r.working and r.day.weekday() < 5
        ],
        "makeup_workdays": [
            {"day": r.day.isoformat(), "name": r.name} for r in rows
            if r.working and r.day.weekday() >= 5
        ],
        "working_days": sum(1 for r in rows if r.working),
    }


def _arrangement(session: Session, year: int) -> dict[str, Any]:
    """A year's days off and make-up days and where they came from (what a change records)."""
    summary = year_summary(session, year)
    return {"sources": summary["sources"],
            "holidays": {d["day"]: d["name"] for d in summary["holidays"]},
            "makeup_workdays": {d["day"]: d["name"] for d in summary["makeup_workdays"]}}


def set_official_year(
    session: Session, year: int, holidays: dict[date, str], makeup_workdays: dict[date, str],
    actor_id: int | None = None,
) -> None:
    """Replace a year with the official arrangement: `holidays` off, `makeup_workdays` on,
    other weekdays working, other weekends off (recorded as the actor's change)."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidInput(f"year: 日历年份 {year} 不在 {MIN_YEAR}–{MAX_YEAR} 之内", field="year")
    for field, days in (("holidays", holidays), ("makeup_workdays", makeup_workdays)):
        for day in days:
            if day.year != year:
                raise InvalidInput(f"{field}: {day.isoformat()} 不在 {year} 年内", field=field)
    both = set(holidays) & set(makeup_workdays)
    if both:
        first = min(both).isoformat()
        raise InvalidInput(f"makeup_workdays: {first} 不能既是节假日又是调休上班日",
                           field="makeup_workdays")
    for day in makeup_workdays:
        if day.weekday() < 5:
            raise InvalidInput(f"makeup_workdays: 调休上班日 {day.isoformat()} 不是周末",
                               field="makeup_workdays")
    before = _arrangement(session, year)
    rows: list[dict[str, Any]] = []
    for day in _year_days(year):
        if day in holidays:
            working, name = False, holidays[day]
        elif day in makeup_workdays:
            working, name = True, makeup_workdays[day]
        else:
            working, name = day.weekday() < 5, None
        rows.append({"day": day, "working": working, "source": SOURCE_ADMIN, "name": name})
    session.execute(
        delete(CalendarDay).where(
            CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)
        )
    )
    session.execute(CalendarDay.__table__.insert(), rows)
    record_change(session, actor_id, "calendar", year, "update", before,
                  _arrangement(session, year))


def moved_deadlines(events: Sequence[Any]) -> dict[str, Any]:
    """What a recomputation of deadlines did (its `recompute_deadlines` events): the tickets
    whose completion deadline moved, with the first few (number, old and new deadline)."""
    def instant(text: Any) -> datetime | None:  # stored as UTC, computed as local time
        return datetime.fromisoformat(text).astimezone(UTC) if isinstance(text, str) else None

    moved: list[dict[str, Any]] = []
    for event in events:
        for change in (event.payload or {}).get("assignments", []):
            old, new = instant(change.get("old_deadline")), instant(change.get("new_deadline"))
            if old != new:
                moved.append({"number": event.ticket.number,
                              "old_deadline": old.isoformat() if old else None,
                              "new_deadline": new.isoformat() if new else None})
                break
    return {"count": len(moved), "recomputed": len({e.ticket_id for e in events}),
            "tickets": moved[:SAMPLE_TICKETS]}


def preview_official_year(
    session: Session, year: int, holidays: dict[date, str], makeup_workdays: dict[date, str],
    recompute: Callable[[], Sequence[Any]],
) -> dict[str, Any]:
    """What entering an arrangement would do, written nothing: the year as it would read and
    the open tickets whose deadlines would move. `recompute` is the recomputation a save runs
    (dispatch.tickets.lifecycle.recompute_provisional_deadlines, given by the caller so the
    calendar stays below the ticket lifecycle); it runs inside a savepoint rolled back."""
    savepoint = session.begin_nested()
    try:
        set_official_year(session, year, holidays, makeup_workdays)
        summary = year_summary(session, year)
        effect = moved_deadlines(recompute())
    finally:
        savepoint.rollback()
    return {**summary, "dry_run": True, "deadlines_moved": effect}


_SECTION = re.compile(r"[一二三四五六七八九十]+、\s*([^：:，。\s]{1,12})[：:]")
_OFF = re.compile(r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})日(?:[（(][^）)]*[）)])?"
                  r"(?:\s*至\s*(?:(\d{4})年)?(?:(\d{1,2})月)?(\d{1,2})日(?:[（(][^）)]*[）)])?)?"
                  r"[^。；;]*?放假")
_DAY = re.compile(r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})日")


def _day(year: int, y: str | None, m: str, d: str) -> date | None:
    try:
        return date(int(y) if y else year, int(m), int(d))
    except ValueError:
        return None


def parse_notice(year: int, text: str) -> tuple[dict[date, str], dict[date, str]]:
    """The holidays and make-up working days of a year read from the State Council's notice
    (国务院办公厅关于××年部分节假日安排的通知) as published: sections like "二、春节：2月15日
    （…）至23日（…）放假调休，共9天。2月14日（周六）、2月28日（周六）上班。" Days outside the
    year are left out; a text with no arrangement in it is refused."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidInput(f"year: 日历年份 {year} 不在 {MIN_YEAR}–{MAX_YEAR} 之内", field="year")
    holidays: dict[date, str] = {}
    makeup: dict[date, str] = {}
    sections = list(_SECTION.finditer(text))
    for i, section in enumerate(sections):
        name = section.group(1)
        body = text[section.end():sections[i + 1].start() if i + 1 < len(sections) else None]
        off = _OFF.search(body)
        if off is None:
            continue
        first = _day(year, off.group(1), off.group(2), off.group(3))
        last = first
        if first is not None and off.group(6):
            last = _day(year, off.group(4) or (str(first.year) if off.group(1) else None),
                        off.group(5) or str(first.month), off.group(6))
        if first is None or last is None or not 0 <= (last - first).days <= 15:
            raise InvalidInput(f"text: “{name}”的放假日期读不出来，请检查", field="text")
        day = first
        while day <= last:
            if day.year == year:
                holidays[day] = name
            day += timedelta(days=1)
        for sentence in re.split(r"[。；;]", body[off.end():]):
            if "上班" not in sentence:
                continue
            for y, m, d in _DAY.findall(sentence):
                work = _day(year, y or None, m, d)
                if work is not None and work.year == year:
                    makeup[work] = f"{name}调休上班"
    if not holidays:
        raise InvalidInput("text: 没有读到任何放假安排（应为“一、元旦：1月1日……放假”这样的条目）",
                           field="text")
    return holidays, makeup


SHEET_HEADINGS = {"日期": "day", "类型": "kind", "名称": "name"}
_KINDS = {"放假": "holiday", "休": "holiday", "holiday": "holiday",
          "上班": "makeup", "班": "makeup", "调休上班": "makeup", "makeup": "makeup"}


def check_sheet_row(year: int, values: dict[str, str]) -> tuple[str, date, str]:
    """One row of a calendar sheet (日期, 类型 放假/上班, 名称) as (kind, day, name)."""
    text = (values.get("day") or "").strip()[:10].replace("/", "-")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"day: 日期“{text}”须为 YYYY-MM-DD", field="day") from None
    if day.year != year:
        raise InvalidInput(f"day: {day.isoformat()} 不在 {year} 年内", field="day")
    kind = _KINDS.get((values.get("kind") or "").strip())
    if kind is None:
        raise InvalidInput("kind: 类型须为“放假”或“上班”", field="kind")
    if kind == "makeup" and day.weekday() < 5:
        raise InvalidInput(f"kind: 调休上班日 {day.isoformat()} 不是周末", field="kind")
    name = (values.get("name") or "").strip()
    if not name or len(name) > 60:
        raise InvalidInput("name: 名称须为 1–60 个字", field="name")
    return kind, day, name
