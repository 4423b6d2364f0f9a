"""Keeping the rollups current: `refresh` takes the pending tickets in batches under the one lock
row, recomputes their facts from their rows and events, and adds the difference between their
new and old contributions to `stat_daily`. Transactions that commit out of event-id order are
no problem: a pending row is taken once it is committed, whatever its id, and the facts are
recomputed from the current state."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from dispatch.core.db import add_rows, insert_ignoring_duplicates, utcnow
from dispatch.stats.definitions import DIMENSIONS
from dispatch.stats.rollups.facts import NO_FACTS, Contribution, compute, contributions, stored
from dispatch.stats.rollups.tables import (
    COUNTERS,
    FACT_TABLES,
    MONTHLY,
    SLICES,
    StatHead,
    StatPending,
    stat_daily,
)


def _apply(session: Session, ids: Sequence[int]) -> int:
    """Recompute the facts of these tickets and add the change to the rollups; how many
    tickets' facts changed."""
    if not ids:
        return 0
    new = compute(session, ids)
    old = stored(session, ids)
    changed = [tid for tid in ids if new.get(tid, NO_FACTS) != old.get(tid, NO_FACTS)]
    if not changed:
        return 0
    delta: dict[Contribution, int] = defaultdict(int)
    for tid in changed:
        for key, n in contributions(new.get(tid, NO_FACTS)).items():
            delta[key] += n
        for key, n in contributions(old.get(tid, NO_FACTS)).items():
            delta[key] -= n
    for table in FACT_TABLES:
        session.execute(delete(table).where(table.c.ticket_id.in_(changed)))
    fresh = [new[tid] for tid in changed if tid in new]
    batches = (
        [f.ticket for f in fresh if f.ticket is not None],  # computed facts always have one
        [r for f in fresh for r in f.assignments],
        [r for f in fresh for r in f.reviews],
    )
    for table, rows in zip(FACT_TABLES, batches, strict=True):
        if rows:
            session.execute(table.insert(), rows)
    _add_to_slices(session, delta)
    return len(changed)


def _add_to_slices(session: Session, delta: dict[Contribution, int]) -> None:
    rows: dict[tuple[Any, ...], dict[str, int]] = {}
    for (day, dims, counter), n in delta.items():
        if not n:
            continue
        for name, kept in SLICES.items():
            values = tuple(getattr(dims, d) if d in kept else "" for d in DIMENSIONS)
            for key in ((name, day, *values), (name + MONTHLY, day.replace(day=1), *values)):
                rows.setdefault(key, dict.fromkeys(COUNTERS, 0))[counter] += n
    slices = [
        dict(zip(("slice", "day", *DIMENSIONS), key, strict=True)) | counts
        for key, counts in sorted(rows.items())
        if any(counts.values())
    ]
    if not slices:
        return
    add_rows(session, stat_daily, ["slice", "day", *DIMENSIONS], COUNTERS, slices)


def lock_head(session: Session, *, wait: bool) -> bool:
    """Take the lock row (False: another refresh or rebuild holds it and `wait` is False)."""
    stmt = select(StatHead.id).where(StatHead.id == 1).with_for_update(skip_locked=not wait)
    if session.scalar(stmt) is not None:
        return True
    insert_ignoring_duplicates(session, StatHead.__table__, [{"id": 1}])
    return session.scalar(stmt) is not None


@dataclass(frozen=True)
class RefreshReport:
    """What one refresh did."""

    tickets: int  # tickets recomputed
    changed: int  # of which the facts changed
    pending: int  # changes still waiting (more than the rounds allowed, or the lock was busy)


def check_clean(session: Session, what: str) -> None:
    if session.new or session.dirty or session.deleted:
        raise RuntimeError(f"the stats {what} commits: commit your changes first")


def refresh(
    session: Session, *, batch: int = 500, max_rounds: int | None = None, wait: bool = True
) -> RefreshReport:
    """Bring facts and rollups up to date with every change committed so far, `batch` pending
    rows per transaction; commits. With `wait=False` it gives way at once to a refresh or
    rebuild already running."""
    check_clean(session, "refresh")
    session.commit()
    tickets = changed = rounds = 0
    while max_rounds is None or rounds < max_rounds:
        if session.scalar(select(StatPending.id).limit(1)) is None:
            break
        if not lock_head(session, wait=wait):
            break
        rows = session.execute(
            select(StatPending.id, StatPending.ticket_id).order_by(StatPending.id).limit(batch)
        ).all()
        ids = sorted({r.ticket_id for r in rows})
        changed += _apply(session, ids)
        session.execute(delete(StatPending).where(StatPending.id.in_([r.id for r in rows])))
        session.execute(update(StatHead).where(StatHead.id == 1).values(refreshed_at=utcnow()))
        session.commit()
        tickets += len(ids)
        rounds += 1
    left = pending_count(session)
    session.commit()
    return RefreshReport(tickets, changed, left)


def pending_count(session: Session) -> int:
    """How many committed changes the rollups have not taken yet."""
    return session.scalar(select(func.count()).select_from(StatPending)) or 0
