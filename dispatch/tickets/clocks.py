"""Time limits (editable settings) and the deadlines, warnings and overdue times they give."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from dispatch.core.audit import record_change
from dispatch.core.settings import load_setting, store_setting
from dispatch.core.vocab import RequestType, Urgency
from dispatch.tickets.calendar import LOCAL_TZ, load_calendar

TIME_LIMITS_KEY = "time_limits"


class Limit(BaseModel):
    """One time limit: calendar minutes or hours, or working days."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: Literal["minutes", "hours", "working_days"]
    value: int = Field(ge=1, le=10_000)


class ByUrgency(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    critical: Limit
    urgent: Limit
    normal: Limit


def _m(v: int) -> Limit:
    return Limit(unit="minutes", value=v)


def _h(v: int) -> Limit:
    return Limit(unit="hours", value=v)


def _wd(v: int) -> Limit:
    return Limit(unit="working_days", value=v)


class TimeLimits(BaseModel):
    """The clocks of DOMAIN.md; the defaults here are what ships."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sign: ByUrgency = ByUrgency(critical=_m(30), urgent=_h(2), normal=_h(24))
    complete_short: ByUrgency = ByUrgency(critical=_h(24), urgent=_wd(2), normal=_wd(3))
    complete_long: ByUrgency = ByUrgency(critical=_h(24), urgent=_wd(3), normal=_wd(7))
    callback: ByUrgency = ByUrgency(critical=_wd(1), urgent=_wd(1), normal=_wd(1))
    short_types: frozenset[RequestType] = frozenset(
        {RequestType.CONSULT, RequestType.HELP, RequestType.PRAISE}
    )
    warning_ratio: float = Field(0.75, gt=0, lt=1)
    max_extensions: int = Field(2, ge=0, le=10)
    max_extension_days: int = Field(7, ge=1, le=60)
    supervision_overdue_days: int = Field(5, ge=1, le=60)
    supervision_days: int = Field(3, ge=1, le=60)
    callback_max_attempts: int = Field(3, ge=1, le=10)

    def complete_limit(self, request_type: RequestType | str | None,
                       urgency: Urgency | str) -> Limit:
        """The completion limit for a request type and urgency (a ticket's stored values: no
        type yet counts as a long one)."""
        table = self.complete_short if request_type in self.short_types else self.complete_long
        return getattr(table, urgency)

    def sign_limit(self, urgency: Urgency | str) -> Limit:
        """The sign-for limit for an urgency."""
        return getattr(self.sign, urgency)


def get_time_limits(session: Session) -> TimeLimits:
    """The time limits in force (the defaults until an administrator edits them)."""
    return load_setting(session, TIME_LIMITS_KEY, TimeLimits)


def set_time_limits(session: Session, data: dict[str, Any], actor_id: int | None) -> TimeLimits:
    """Validate and store new time limits (recorded as the actor's change); applies to clocks
    started from now on."""
    before = get_time_limits(session).model_dump()  # sets stay sets: recorded sorted
    limits = store_setting(session, TIME_LIMITS_KEY, TimeLimits, data, actor_id)
    record_change(session, actor_id, "time_limits", TIME_LIMITS_KEY, "update", before,
                  limits.model_dump())
    return limits


@dataclass(frozen=True)
class Deadline:
    """When a clock runs out; `provisional` if a provisional calendar year decided it."""

    at: datetime
    provisional: bool = False


def end_of_local_day(day: date) -> datetime:
    """23:59:59 Asia/Shanghai of a date, as an aware datetime."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=LOCAL_TZ)


def deadline_after(session: Session, start: datetime, limit: Limit) -> Deadline:
    """The deadline of a clock of `limit` started at `start` (aware)."""
    if limit.unit == "minutes":
        return Deadline(start + timedelta(minutes=limit.value))
    if limit.unit == "hours":
        return Deadline(start + timedelta(hours=limit.value))
    return add_working_days(session, start, limit.value)


def add_working_days(session: Session, start: datetime, days: int) -> Deadline:
    """End (23:59:59 local) of the `days`-th working day after the local day of `start`."""
    local_day = start.astimezone(LOCAL_TZ).date()
    calendar = load_calendar(session, local_day, days)
    day, provisional = calendar.add_working_days(local_day, days)
    return Deadline(end_of_local_day(day), provisional)


def warning_time(start: datetime, deadline: datetime, ratio: float) -> datetime:
    """When `ratio` of the clock from `start` to `deadline` has been used (预警)."""
    return start + (deadline - start) * ratio
