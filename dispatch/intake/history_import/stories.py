"""The events a ticket in each state would have (checked once against the transition table),
and the clocks of the tickets still open."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from dispatch.core.vocab import (
    Status,
)
from dispatch.intake.history_import.rows import HistoryRow
from dispatch.intake.history_import.vocabulary import ANSWERED
from dispatch.tickets.calendar import LOCAL_TZ, WorkingCalendar, calendar_year
from dispatch.tickets.clocks import Limit, TimeLimits, end_of_local_day
from dispatch.tickets.lifecycle.table import SAME, TABLE

# Each imported state's events after intake: (action, from, to). Checked against the
# transition table once, below, so no imported history is one the system could not make.
Story = list[tuple[str, Status, Status]]
_HANDLING: Story = [("dispatch", Status.NEW, Status.DISPATCHED)]
_SIGNED: Story = [*_HANDLING, ("sign", Status.DISPATCHED, Status.SIGNED)]
_COMPLETED: Story = [*_SIGNED, ("complete", Status.SIGNED, Status.COMPLETED)]
_REVIEWED: Story = [*_COMPLETED, ("review_accept", Status.COMPLETED, Status.REVIEWED)]
STORIES: dict[str, Story] = {
    Status.NEW: [],
    ANSWERED: [("answer", Status.NEW, Status.ARCHIVED)],
    Status.VOID: [("void", Status.NEW, Status.VOID)],
    Status.DISPATCHED: _HANDLING,
    Status.SIGNED: _SIGNED,
    Status.RETURNED: [*_HANDLING, ("return", Status.DISPATCHED, Status.RETURNED)],
    Status.COMPLETED: _COMPLETED,
    Status.REVIEWED: _REVIEWED,
    Status.REOPENED: [*_REVIEWED, ("callback", Status.REVIEWED, Status.REOPENED)],
    # ARCHIVED: the review's end is chosen per row (callback or close_without_callback).
    Status.ARCHIVED: _REVIEWED,
}


def event_count(r: HistoryRow) -> int:
    """How many events an imported row gets: intake, its story, the archiving."""
    return 1 + len(STORIES[r.state]) + (r.state == Status.ARCHIVED)


def _check_stories() -> None:
    endings: Story = [("callback", Status.REVIEWED, Status.ARCHIVED),
               ("close_without_callback", Status.REVIEWED, Status.ARCHIVED)]
    for story in [*STORIES.values(), endings]:
        for action, frm, to in story:
            rule = TABLE[action]
            if frm not in rule.from_states or (to not in rule.to_states
                                               and SAME not in rule.to_states):
                raise AssertionError(f"imported story: {action} {frm} -> {to}")


_check_stories()




class Clocks:
    """Deadlines under today's time limits, the calendar read once per year."""

    def __init__(self, session: Session, limits: TimeLimits) -> None:
        self.session = session
        self.limits = limits
        self.days: dict[date, tuple[bool, str]] = {}
        self.years: set[int] = set()
        self.cache: dict[tuple[date, int], tuple[datetime, bool]] = {}

    def _working(self, start: date, count: int) -> tuple[datetime, bool]:
        key = (start, count)
        found = self.cache.get(key)
        if found is None:
            last = start + timedelta(days=count * 2 + 40)
            missing = set(range(start.year, last.year + 1)) - self.years
            if missing:  # `read_years` read them all: nothing is read while writing
                raise AssertionError(f"calendar years not read: {sorted(missing)}")
            day, provisional = WorkingCalendar(self.days).add_working_days(start, count)
            found = self.cache[key] = (end_of_local_day(day), provisional)
        return found

    def read_years(self, first: datetime, last: datetime) -> None:
        """Read the calendar from `first` to a year after `last` (before the writing starts:
        the writing reads nothing from the database)."""
        for year in range(first.astimezone(LOCAL_TZ).year, last.astimezone(LOCAL_TZ).year + 2):
            if year not in self.years:
                self.days.update(calendar_year(self.session, year))
                self.years.add(year)

    def deadline(self, start: datetime, limit: Limit) -> tuple[datetime, bool]:
        if limit.unit == "minutes":
            return start + timedelta(minutes=limit.value), False
        if limit.unit == "hours":
            return start + timedelta(hours=limit.value), False
        return self._working(start.astimezone(LOCAL_TZ).date(), limit.value)
