"""Which tickets the rollups must recompute: a transaction that writes ticket events also writes
their tickets' ids to `stat_pending` (nothing when it rolls back), for `refresh` to take.

`record_events(session, events)` is the consequence the table of consequences
(`dispatch.subscribers.ON_COMMIT`) calls before a commit with the ticket events the transaction
wrote. `mark_changed` is for writers that bypass the ORM events (bulk loads)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from dispatch.core.models import Event
from dispatch.stats.rollups.tables import StatPending

# Actions that change nothing a metric counts: their tickets are not recomputed.
IDLE_ACTIONS = frozenset({"urge", "supervise", "note", "call_transfer", "police_accept"})


def record_events(session: Session, events: Iterable[Event]) -> None:
    """Queue the tickets of these ticket events (written in this transaction) for `refresh`,
    but for actions that change nothing a metric counts."""
    ids = {e.ticket_id for e in events if e.action not in IDLE_ACTIONS and e.ticket_id is not None}
    if ids:
        mark_changed(session, ids)


def mark_changed(session: Session, ticket_ids: Iterable[int]) -> None:
    """Have these tickets' facts recomputed by the next refresh (for writers that bypass the
    ORM events, e.g. bulk loads); part of the caller's transaction."""
    rows = [{"ticket_id": tid} for tid in sorted(set(ticket_ids))]
    if rows:
        session.execute(StatPending.__table__.insert(), rows)
