"""The tables of the statistics' rollups: the facts (`stat_tickets`, `stat_assignments`,
`stat_reviews`: one row per unit, with its dimensions and what the metrics count of it), the
daily sums by slice (`stat_daily`), the tickets waiting to be recomputed (`stat_pending`) and the
lock row (`stat_head`); and the names of their counters and slices."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.core.db import Base, UTCDateTime
from dispatch.stats.definitions import DIMENSIONS

DIM_SIZES = {"channel": 16, "type": 16, "category": 80, "department": 40, "street": 40, "cell": 40}

# What stat_daily adds up per day and key (clocks: on time, late, still open).
COUNTERS = (
    "intake",
    "void",
    "direct_answer",
    "repeat",
    "dispatched",
    "completed",
    "reopened",
    "dispatches",
    "returned",
    "extended",
    "sign_on_time",
    "sign_late",
    "sign_open",
    "complete_on_time",
    "complete_late",
    "complete_open",
    "callback_needed",
    "callback_done",
    "answered",
    "satisfied",
    "resolved",
    "auto_dispatched",
    "auto_accurate",
    "patrol",
    "self_handled",
    "alarm_on_time",
    "alarm_late",
)
OPEN_COUNTERS = ("sign_open", "complete_open")
PLAIN_COUNTERS = tuple(c for c in COUNTERS if c not in OPEN_COUNTERS)
# The counters that are parts of a tally as they are (the clocks' parts are made of three, the
# alarms' of two and the open alarms the facts hold).
TALLIED = tuple(c for c in COUNTERS if not c.startswith(("sign_", "complete_", "alarm_")))

# The slices of stat_daily: name → the dimensions kept (the others are ''). Besides the totals,
# one slice per dimension and the full key, the pairs the dashboard asks (a filter on street,
# channel or category with a grouping, or two of those filters) and the small ones only the API
# reaches (type × department); pairs as large as the full key (category × cell, department ×
# cell, type × cell) are left to it.
SLICES: dict[str, tuple[str, ...]] = {
    "total": (),
    "channel": ("channel",),
    "type": ("type",),
    "category": ("category",),
    "department": ("department",),
    "street": ("street",),
    "cell": ("street", "cell"),
    "ch+ty": ("channel", "type"),
    "ch+ca": ("channel", "category"),
    "ch+de": ("channel", "department"),
    "ch+st": ("channel", "street"),
    "ch+ce": ("channel", "street", "cell"),
    "ty+ca": ("type", "category"),
    "ty+de": ("type", "department"),
    "ty+st": ("type", "street"),
    "ca+de": ("category", "department"),
    "ca+st": ("category", "street"),
    "de+st": ("department", "street"),
    "full": DIMENSIONS,
}
FULL = "full"

MONTHLY = "/m"  # suffix of a slice's monthly rows (day = the month's first day)


class _Dimensions:
    """The dimension columns every fact row carries ('' where not set)."""

    channel: Mapped[str] = mapped_column(String(DIM_SIZES["channel"]))
    type: Mapped[str] = mapped_column(String(DIM_SIZES["type"]))
    category: Mapped[str] = mapped_column(String(DIM_SIZES["category"]))
    department: Mapped[str] = mapped_column(String(DIM_SIZES["department"]))
    street: Mapped[str] = mapped_column(String(DIM_SIZES["street"]))
    cell: Mapped[str] = mapped_column(String(DIM_SIZES["cell"]))


def _drill_order(table: str, day: str, refs: tuple[str, ...], flags: tuple[str, ...]) -> Index:
    """The index a drill-down page is read from, in its order (day, ticket, unit), holding
    too (PostgreSQL: INCLUDE) the columns the parts dated by that day are told apart by and
    the fact's key, so that the units before a far page are skipped in the index alone. It
    also serves any condition on the day."""
    return Index(
        f"ix_{table}_{day}_drill",
        day,
        "ticket_id",
        *refs[:1],
        postgresql_include=[*refs[1:], *flags],
    )


def _fact_id(**kwargs: Any) -> Any:
    """An id column of the raw tables copied into a fact. Facts are derived data, rebuilt
    from the raw tables at will: no foreign key (its check per row took nearly half the time
    a rebuild spends writing the facts)."""
    return mapped_column(Integer, autoincrement=False, **kwargs)


_ALARMED = "alarm_day IS NOT NULL"


class StatTicket(_Dimensions, Base):
    """What the metrics count of one ticket."""

    __tablename__ = "stat_tickets"
    __table_args__ = (
        _drill_order("stat_tickets", "created_day", (), ("void", "direct_answer", "repeat")),
        _drill_order("stat_tickets", "dispatched_day", (), ("completed", "reopened")),
        # The few tickets with an alarm: their drill-down, and the open alarms read at `now`.
        Index(
            "ix_stat_tickets_alarm_day",
            "alarm_day",
            "ticket_id",
            postgresql_include=["alarm_state", "alarm_raised_at"],
            postgresql_where=text(_ALARMED),
            sqlite_where=text(_ALARMED),
        ),
    )

    ticket_id: Mapped[int] = _fact_id(primary_key=True)
    created_day: Mapped[date] = mapped_column(Date)
    void: Mapped[bool] = mapped_column(Boolean)
    direct_answer: Mapped[bool] = mapped_column(Boolean)
    repeat: Mapped[bool] = mapped_column(Boolean)
    dispatched_day: Mapped[date | None] = mapped_column(Date)
    completed: Mapped[bool] = mapped_column(Boolean)
    reopened: Mapped[bool] = mapped_column(Boolean)
    # 智能派单: the first lead assignment was automatic; and it stood (not returned, not taken
    # back, the lead not moved elsewhere). Counted on the dispatched day.
    auto_dispatched: Mapped[bool] = mapped_column(Boolean)
    auto_accurate: Mapped[bool] = mapped_column(Boolean)
    # 巡查上报: a grid worker's patrol report, and handled on the spot (自办自结). Counted on
    # the created day.
    patrol: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    self_handled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The emergency alarm: raised when (and its local day), and how its acknowledgement went:
    # on_time (within ALARM_ACK_SECONDS), late, or open (not acknowledged yet).
    alarm_day: Mapped[date | None] = mapped_column(Date)
    alarm_raised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    alarm_state: Mapped[str | None] = mapped_column(String(8))


_SIGN_OPEN = "sign_state = 'open'"
_COMPLETE_OPEN = "complete_state = 'open'"


class StatAssignment(_Dimensions, Base):
    """What the metrics count of one assignment (its department is the assignment's)."""

    __tablename__ = "stat_assignments"
    __table_args__ = (
        # Clocks still running: the few rows `overdue_now` reads (the ticket id included, so
        # that counting tickets needs no visit to the table).
        Index(
            "ix_stat_assignments_sign_open",
            "sign_deadline",
            "ticket_id",
            postgresql_where=text(_SIGN_OPEN),
            sqlite_where=text(_SIGN_OPEN),
        ),
        Index(
            "ix_stat_assignments_complete_open",
            "complete_deadline",
            "ticket_id",
            postgresql_where=text(_COMPLETE_OPEN),
            sqlite_where=text(_COMPLETE_OPEN),
        ),
        _drill_order(
            "stat_assignments", "dispatched_day", ("assignment_id",), ("returned", "extended")
        ),
        *(
            _drill_order(
                "stat_assignments", f"{c}_day", ("assignment_id",), (f"{c}_state", f"{c}_deadline")
            )
            for c in ("sign", "complete")
        ),
    )

    assignment_id: Mapped[int] = _fact_id(primary_key=True)
    ticket_id: Mapped[int] = _fact_id(index=True)
    dispatched_day: Mapped[date] = mapped_column(Date)
    returned: Mapped[bool] = mapped_column(Boolean)
    extended: Mapped[bool] = mapped_column(Boolean)
    sign_day: Mapped[date] = mapped_column(Date)
    sign_state: Mapped[str | None] = mapped_column(String(8))
    sign_deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    complete_day: Mapped[date] = mapped_column(Date)
    complete_state: Mapped[str | None] = mapped_column(String(8))
    complete_deadline: Mapped[datetime] = mapped_column(UTCDateTime())


class StatReview(_Dimensions, Base):
    """What the metrics count of one accepted review and of the callback that concluded it
    (its department is the lead department of the round reviewed)."""

    __tablename__ = "stat_reviews"
    __table_args__ = (
        _drill_order(
            "stat_reviews", "reviewed_day", ("event_id",), ("callback_needed", "callback_done")
        ),
        _drill_order(
            "stat_reviews",
            "answered_day",
            ("callback_event_id", "event_id"),
            ("satisfied", "resolved"),
        ),
    )

    event_id: Mapped[int] = _fact_id(primary_key=True)
    ticket_id: Mapped[int] = _fact_id(index=True)
    reviewed_day: Mapped[date] = mapped_column(Date)
    callback_needed: Mapped[bool] = mapped_column(Boolean)
    callback_done: Mapped[bool] = mapped_column(Boolean)
    callback_event_id: Mapped[int | None] = _fact_id()
    answered_day: Mapped[date | None] = mapped_column(Date)
    satisfied: Mapped[bool] = mapped_column(Boolean)
    resolved: Mapped[bool] = mapped_column(Boolean)


class StatPending(Base):
    """A ticket whose facts must be recomputed (written with its events, taken by refresh)."""

    __tablename__ = "stat_pending"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))


class StatHead(Base):
    """One row: its lock lets one refresh or rebuild run at a time; when they last ran."""

    __tablename__ = "stat_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rebuilt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


stat_daily = Table(
    "stat_daily",
    Base.metadata,
    Column("slice", String(12), primary_key=True),
    Column("day", Date, primary_key=True),
    *(Column(d, String(DIM_SIZES[d]), primary_key=True) for d in DIMENSIONS),
    *(Column(c, Integer, nullable=False) for c in COUNTERS),
)


FACT_TABLES = (StatTicket.__table__, StatAssignment.__table__, StatReview.__table__)
