"""The warning half of a delegated step's clocks (下派, DOMAIN.md "Grid governance"): like an
assignment's, each of a step's two clocks (sign-for, completion) warns (预警/催办) once when the
time-limit settings' `warning_ratio` of it has run, before its deadline; the deadlines and the
overdue marks stay on the step (`Delegation`), the warning times and marks are this table's
(one row per step, written by `delegate`). While the assignment is suspended (挂起) the row
also keeps the step's deadlines as they were before the stop (`stopped_*`), from which the
resume moves them by the time the clock stood (`dispatch.tickets.lifecycle.suspension`).

The clock sweep (`dispatch.tickets.delegation_clock`) fires the warnings and sets the marks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column, object_session

from dispatch.core.db import Base, UTCDateTime
from dispatch.core.models import Delegation
from dispatch.tickets.clocks import warning_time

_SIGN_UNWARNED = "sign_warned_at IS NULL"
_COMPLETE_UNWARNED = "complete_warned_at IS NULL"


class DelegationClock(Base):
    """A delegated step's warning times and marks, and its deadlines before a suspension."""

    __tablename__ = "delegation_clocks"
    __table_args__ = (
        # The sweep reads the warnings not yet fired whose time has come.
        Index("ix_delegation_clocks_sign_warn", "sign_warn_at",
              postgresql_where=text(_SIGN_UNWARNED), sqlite_where=text(_SIGN_UNWARNED)),
        Index("ix_delegation_clocks_complete_warn", "complete_warn_at",
              postgresql_where=text(_COMPLETE_UNWARNED), sqlite_where=text(_COMPLETE_UNWARNED)),
    )

    delegation_id: Mapped[int] = mapped_column(ForeignKey("delegations.id"), primary_key=True,
                                               autoincrement=False)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    # A warned mark: when the warning fired, or when the clock stopped owing one (signed for,
    # closed) — so that the partial indexes hold only the warnings still owed.
    sign_warn_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sign_warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    complete_warn_at: Mapped[datetime] = mapped_column(UTCDateTime())
    complete_warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The step's deadlines when a suspension stopped its clocks (None while they run; a clock
    # whose deadline had passed already is not stopped).
    stopped_sign_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stopped_complete_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())


def arm(session: Session, d: Delegation, ratio: float) -> DelegationClock:
    """The warning clock of a step just delegated (flushed: it has its id)."""
    clock = DelegationClock(
        delegation_id=d.id, ticket_id=d.ticket_id,
        sign_warn_at=warning_time(d.delegated_at, d.sign_deadline, ratio),
        complete_warn_at=warning_time(d.delegated_at, d.complete_deadline, ratio))
    session.add(clock)
    return clock


def disarm(d: Delegation, now: datetime, *, sign: bool = True, complete: bool = True) -> None:
    """The step's sign-for clock (signed for) or both (closed) owe no warning any more: their
    marks set, so the sweep never reads them again. A completion clock awaiting review is left
    armed: a rejected review runs it again."""
    session = object_session(d)
    clock = session.get(DelegationClock, d.id) if session is not None and d.id else None
    if clock is None:
        return
    if sign and clock.sign_warned_at is None:
        clock.sign_warned_at = now
    if complete and clock.complete_warned_at is None:
        clock.complete_warned_at = now


def clock_of(session: Session, d: Delegation) -> DelegationClock | None:
    """The step's warning clock (None for a step delegated before there were any)."""
    return session.get(DelegationClock, d.id)


def clocks_of(session: Session, ids: list[int]) -> dict[int, DelegationClock]:
    """The warning clocks of these steps, by step id."""
    if not ids:
        return {}
    rows = session.scalars(select(DelegationClock).where(DelegationClock.delegation_id.in_(ids)))
    return {c.delegation_id: c for c in rows}


__all__ = ["DelegationClock", "arm", "disarm", "clock_of", "clocks_of"]
