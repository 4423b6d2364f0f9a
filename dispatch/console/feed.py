"""The console feed: every ticket event becomes a numbered console event, kept in the database,
so a console that lost its connection can ask for exactly what it missed (CONTRACT.md, live
console).

Two steps, so that no writer waits on a global counter while it works:
1. In the transaction that writes ticket events, a feed row per event is added with the ticket's
   summary and who may see it (`install()` hooks every session's commit, so no writer can
   forget; nothing is recorded for a transaction that rolls back).
2. After commit, `sequence()` numbers every committed, unnumbered row under one row lock, in
   commit order, gap-free. Whoever numbers a row hands it to the relay; a row left unnumbered by
   a crashed process is numbered by the next call anywhere (or the periodic round). A writer of
   the past that relays nothing (the simulation) numbers them with `number_pending()`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from dispatch.console.views import Viewer, audience, event_type, iso, rooms, summarise
from dispatch.core.db import (
    Base,
    JSONType,
    UTCDateTime,
    affected_rows,
    insert_ignoring_duplicates,
    utcnow,
)
from dispatch.core.models import Event, Ticket
from dispatch.core.vocab import ALL_SEEING_ROLES
from dispatch.intake.phones import mask_text

REPLAY_LIMIT = 5000  # more missed than this: the console reloads its board instead
SEQUENCE_BATCH = 5000


class ConsoleEvent(Base):
    """One numbered event of the console feed, with the ticket's summary at that moment."""

    __tablename__ = "console_events"
    __table_args__ = (
        # The sequencer's work list: only unnumbered rows.
        Index("ix_console_events_unsequenced", "id", postgresql_where=text("seq IS NULL"),
              sqlite_where=text("seq IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # Who may see it: {"departments": [...], "workers": [user ids], "cell", "street"}.
    audience: Mapped[dict[str, Any]] = mapped_column(JSONType)


class FeedHead(Base):
    """The last sequence number given (one row; its lock orders the numbering)."""

    __tablename__ = "console_feed_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# ---------------------------------------------------------------- recording (step 1)


def _workers(session: Session, tickets: Iterable[Ticket]) -> dict[int, str]:
    from dispatch.core.models import User

    ids = {a.grid_worker_id for t in tickets for a in t.assignments if a.grid_worker_id}
    if not ids:
        return {}
    return dict(session.execute(
        select(User.id, User.username).where(User.id.in_(ids))).tuples().all())


def record_events(session: Session, events: list[Event]) -> None:
    """A console event row (unnumbered) for each ticket event of the transaction about to
    commit; run by the table of consequences (`dispatch.subscribers`)."""
    tickets = {e.ticket_id: e.ticket for e in events}
    workers = _workers(session, tickets.values())
    rows = []
    with session.no_autoflush:  # reading the tickets writes nothing yet
        for e in sorted(events, key=lambda e: e.id):
            t = tickets[e.ticket_id]
            rows.append({"seq": None, "event_id": e.id, "ticket_id": t.id,
                         "type": event_type(e, t), "action": e.action, "at": e.at,
                         "summary": summarise(t, e.at, workers), "audience": audience(t)})
    session.execute(insert(ConsoleEvent.__table__), rows)  # one multi-row INSERT


# ---------------------------------------------------------------- numbering (step 2)


def _lock_head(session: Session) -> int:
    locked = affected_rows(session.execute(update(FeedHead).where(FeedHead.id == 1)
                                           .values(seq=FeedHead.seq)))
    if not locked:  # the first event ever: create the head row (racing creators are fine)
        insert_ignoring_duplicates(session, FeedHead.__table__,
                                   [{"id": 1, "seq": 0, "updated_at": utcnow()}])
        session.execute(update(FeedHead).where(FeedHead.id == 1).values(seq=FeedHead.seq))
    return session.scalar(select(FeedHead.seq).where(FeedHead.id == 1)) or 0


def sequence(session: Session) -> list[ConsoleEvent]:
    """Number the committed, unnumbered feed rows in commit order and commit; the rows this
    call numbered (the caller relays them). Call with no pending changes in the session."""
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("the feed sequencer commits: commit your changes first")
    session.commit()  # a fresh transaction: see everything committed so far
    has_work = session.scalar(select(ConsoleEvent.id).where(ConsoleEvent.seq.is_(None))
                              .limit(1))
    if has_work is None:
        session.commit()
        return []
    head = _lock_head(session)
    rows = list(session.scalars(select(ConsoleEvent).where(ConsoleEvent.seq.is_(None))
                                .order_by(ConsoleEvent.id).limit(SEQUENCE_BATCH)))
    for row in rows:
        head += 1
        row.seq = head
    session.execute(update(FeedHead).where(FeedHead.id == 1)
                    .values(seq=head, updated_at=utcnow()))
    session.commit()
    return rows


def number_pending(session: Session) -> int:
    """Number every committed, unnumbered row as `sequence` does (under the same lock, in the
    same order) with one UPDATE, for a writer that relays nothing (a simulated past); how many.
    Call with no pending changes in the session: it commits."""
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("the feed sequencer commits: commit your changes first")
    session.commit()
    if session.scalar(select(ConsoleEvent.id).where(ConsoleEvent.seq.is_(None)).limit(1)) is None:
        session.commit()
        return 0
    top = _lock_head(session)
    order = (select(ConsoleEvent.id, func.row_number().over(order_by=ConsoleEvent.id).label("n"))
             .where(ConsoleEvent.seq.is_(None)).subquery())
    numbered = affected_rows(session.execute(
        update(ConsoleEvent).where(ConsoleEvent.id == order.c.id)
        .values(seq=top + order.c.n).execution_options(synchronize_session=False)))
    session.execute(update(FeedHead).where(FeedHead.id == 1)
                    .values(seq=top + numbered, updated_at=utcnow()))
    session.commit()
    return numbered


def head(session: Session) -> int:
    """The last number given."""
    return session.scalar(select(FeedHead.seq).where(FeedHead.id == 1)) or 0


# ---------------------------------------------------------------- reading and relaying


class Sink(Protocol):
    def emit(self, message: dict[str, Any], rooms: Sequence[str]) -> None:
        """Send one console event to these rooms (Socket.IO, in-process or through Redis)."""
        ...


Decorate = Callable[[dict[str, Any]], dict[str, Any]]


def message(row: ConsoleEvent, decorate: Decorate | None = None) -> dict[str, Any]:
    """A feed row as the `ticket` event of CONTRACT.md."""
    summary = dict(row.summary)
    if isinstance(summary.get("text"), str):  # rows recorded before texts were masked
        summary["text"] = mask_text(summary["text"])
    return {"seq": row.seq, "type": row.type, "action": row.action, "at": iso(row.at),
            "ticket": decorate(summary) if decorate else summary}


def relay(session: Session, sink: Sink, decorate: Decorate | None = None) -> int:
    """Number what is pending and send it; how many events went out."""
    rows = sequence(session)
    for row in rows:
        sink.emit(message(row, decorate), rooms(row.audience))
    return len(rows)


@dataclass(frozen=True)
class Replay:
    """What a console missed: the events in order, or `reset` when too many to replay."""

    events: list[dict[str, Any]]
    head: int
    reset: bool = False


def replay(session: Session, viewer: Viewer, after_seq: int,
           decorate: Decorate | None = None, limit: int = REPLAY_LIMIT) -> Replay:
    """Every event after `after_seq` this viewer may see, in order."""
    top = head(session)
    if after_seq < 0 or after_seq > top:
        return Replay([], top, reset=True)  # a console from another database or the future
    if top - after_seq > limit:
        return Replay([], top, reset=True)
    rows = session.scalars(select(ConsoleEvent)
                           .where(ConsoleEvent.seq > after_seq, ConsoleEvent.seq <= top)
                           .order_by(ConsoleEvent.seq))
    events = [message(r, decorate) for r in rows if viewer.may_see(r.audience)]
    return Replay(events, top)


RECENT_LIMIT = 50  # the live feed a console starts with
RECENT_SCAN = 2000  # how far back a scoped viewer's recent events are looked for


def recent(session: Session, viewer: Viewer, upto: int, decorate: Decorate | None = None,
           limit: int = RECENT_LIMIT) -> list[dict[str, Any]]:
    """The last `limit` events up to `upto` this viewer may see, oldest first (what the live
    feed shows on load instead of starting empty)."""
    if viewer.role not in ALL_SEEING_ROLES and not viewer.rooms():
        return []
    window = limit if viewer.role in ALL_SEEING_ROLES else RECENT_SCAN
    rows = list(session.scalars(select(ConsoleEvent)
                                .where(ConsoleEvent.seq.is_not(None), ConsoleEvent.seq <= upto)
                                .order_by(ConsoleEvent.seq.desc()).limit(window)))
    seen = [r for r in rows if viewer.may_see(r.audience)][:limit]
    return [message(r, decorate) for r in reversed(seen)]


def board_seqs(session: Session, ticket_ids: Sequence[int]) -> dict[int, int]:
    """The last numbered feed event of each ticket (what a board row is up to)."""
    if not ticket_ids:
        return {}
    rows = session.execute(select(ConsoleEvent.ticket_id, func.max(ConsoleEvent.seq))
                           .where(ConsoleEvent.ticket_id.in_(ticket_ids))
                           .group_by(ConsoleEvent.ticket_id))
    return {tid: seq or 0 for tid, seq in rows}


__all__ = ["ConsoleEvent", "FeedHead", "Viewer", "Replay", "record_events", "sequence",
           "number_pending", "relay",
           "replay", "recent", "summarise", "audience", "rooms", "message", "head", "board_seqs"]
