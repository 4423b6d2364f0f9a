"""Which tickets the rollups must recompute: a transaction that writes ticket events also writes
their tickets' ids to `stat_pending` (nothing when it rolls back), for `refresh` to take.

`record_events(session, events)` is the consequence a table of consequences calls before a
commit with the ticket events the transaction wrote. Until that table is installed everywhere,
`install()` registers session hooks of its own (`collect` after each flush, `record` before
the commit, `forget` after a rollback) that call it. `mark_changed` is for writers that bypass
the ORM events (bulk loads)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from dispatch.core.models import Event
from dispatch.stats.rollups.tables import StatPending

# Actions that change nothing a metric counts: their tickets are not recomputed.
IDLE_ACTIONS = frozenset({"urge", "supervise", "note", "call_transfer", "police_accept"})

_INFO_KEY = "stat_pending_events"


def record_events(session: Session, events: Iterable[Event]) -> None:
    """Queue the tickets of these ticket events (written in this transaction) for `refresh`,
    but for actions that change nothing a metric counts."""
    ids = {e.ticket_id for e in events if e.action not in IDLE_ACTIONS and e.ticket_id is not None}
    if ids:
        mark_changed(session, ids)


def collect(session: Session, flush_context: Any) -> None:
    """Session hook after a flush: note the ticket events it wrote."""
    new = [o for o in session.new if isinstance(o, Event)]
    if new:
        session.info.setdefault(_INFO_KEY, []).extend(new)


def record(session: Session) -> None:
    """Session hook before a commit: queue the tickets of the events noted."""
    pending: list[Event] = session.info.pop(_INFO_KEY, [])
    if not pending and not any(isinstance(o, Event) for o in session.new):
        return
    session.flush()  # events added since the last flush get their ticket ids
    pending += session.info.pop(_INFO_KEY, [])
    record_events(session, pending)


def forget(session: Session, previous_transaction: Any = None) -> None:
    """Session hook after a rollback: nothing noted is kept."""
    session.info.pop(_INFO_KEY, None)


def install() -> None:
    """Note the tickets of every ticket event any session commits, for `refresh`
    (idempotent)."""
    if not event.contains(Session, "before_commit", record):
        event.listen(Session, "after_flush", collect)
        event.listen(Session, "before_commit", record)
        event.listen(Session, "after_rollback", forget)


def installed() -> bool:
    """Whether `install` is in force."""
    return event.contains(Session, "before_commit", record)


def uninstall() -> None:
    """Undo `install` (tests)."""
    if event.contains(Session, "before_commit", record):
        event.remove(Session, "after_flush", collect)
        event.remove(Session, "before_commit", record)
        event.remove(Session, "after_rollback", forget)


def mark_changed(session: Session, ticket_ids: Iterable[int]) -> None:
    """Have these tickets' facts recomputed by the next refresh (for writers that bypass the
    ORM events, e.g. bulk loads); part of the caller's transaction."""
    rows = [{"ticket_id": tid} for tid in sorted(set(ticket_ids))]
    if rows:
        session.execute(StatPending.__table__.insert(), rows)

