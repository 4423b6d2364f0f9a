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

from dispatch.core.db import (
    Base,
    JSONType,
    UTCDateTime,
    affected_rows,
    insert_ignoring_duplicates,
    utcnow,
)
from dispatch.core.models import Assignment, Event, Ticket
from dispatch.core.vocab import ALL_SEEING_ROLES, CLOSED_STATES, AssignmentStatus, Channel, Role
from dispatch.core.vocab import Status as S
from dispatch.intake.phones import mask_text

TEXT_MAX = 120
REPLAY_LIMIT = 5000  # more missed than this: the console reloads its board instead
SEQUENCE_BATCH = 5000
ALL_ROOM = "all"

# The console's event types (CONTRACT.md); `alarm`: an emergency of an unattended channel,
# `alarm_escalated`: nobody acknowledged it in time, supervisors are called.
CREATED, UPDATED, SLA_WARNING, SLA_OVERDUE, TRANSFER = (
    "created", "updated", "sla_warning", "sla_overdue", "transfer")
ALARM, ALARM_ESCALATED = "alarm", "alarm_escalated"
WARNING_STEPS = frozenset({"sign_warning", "complete_warning"})
OVERDUE_STEPS = frozenset({"sign_overdue", "complete_overdue", "supervision"})
HANDLING = (AssignmentStatus.DISPATCHED, AssignmentStatus.SIGNED)


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


# ---------------------------------------------------------------- what a console shows


def event_type(e: Event, ticket: Ticket) -> str:
    """The console's type of a ticket event."""
    if e.action == "intake":
        return TRANSFER if ticket.channel == Channel.POLICE110 else CREATED
    if e.action == "transfer_110":
        return TRANSFER
    if e.action == "raise_alarm":
        return ALARM
    if e.action == "escalate_alarm":
        return ALARM_ESCALATED
    step = (e.payload or {}).get("clock_step")
    if step in WARNING_STEPS:
        return SLA_WARNING
    if step in OVERDUE_STEPS:
        return SLA_OVERDUE
    return UPDATED


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _current_clock(t: Ticket, lead: Assignment | None
                   ) -> tuple[str | None, datetime | None, datetime | None]:
    """The clock that runs now: (name, deadline, when it turns amber)."""
    if t.supervised and t.supervise_deadline is not None and t.status not in CLOSED_STATES:
        return "supervise", t.supervise_deadline, None
    if lead is not None and lead.status == AssignmentStatus.DISPATCHED:
        return "sign", lead.sign_deadline, lead.sign_warn_at
    if lead is not None and lead.status == AssignmentStatus.SIGNED:
        return "complete", lead.complete_deadline, lead.complete_warn_at
    if t.status == S.REVIEWED and t.callback_deadline is not None:
        return "callback", t.callback_deadline, None
    return None, None, None


def _open_lead(t: Ticket) -> Assignment | None:
    for a in t.assignments:
        if a.role == "lead" and a.closed_at is None and a.status in (*HANDLING,
                                                                       AssignmentStatus.COMPLETED):
            return a
    return None


def shown_text(text: str) -> str:
    """A demand's text as consoles show it: numbers typed into it (phone, ID card) masked,
    since consoles of several departments share the events and no console shows the citizen;
    cut to TEXT_MAX characters."""
    masked = mask_text(text)
    return masked if len(masked) <= TEXT_MAX else masked[:TEXT_MAX - 1] + "…"


def summarise(t: Ticket, now: datetime, workers: dict[int, str] | None = None) -> dict[str, Any]:
    """A ticket as the console board and its live events show it (codes; names are added by
    the relay). No citizen data, and the text's numbers masked: consoles of several
    departments share the events."""
    lead = _open_lead(t)
    clock, deadline, warn_at = _current_clock(t, lead)
    active = [a for a in t.assignments if a.closed_at is None and a.status in HANDLING]
    overdue = any(
        (a.status == AssignmentStatus.DISPATCHED and now > a.sign_deadline)
        or now > a.complete_deadline or a.sign_overdue_at or a.complete_overdue_at
        for a in active)
    extension_pending = any(x.status == "pending" for x in t.extensions)
    status = S(t.status)
    queues = []
    if status in (S.NEW, S.REOPENED):
        queues.append("to_dispatch")
    if status == S.NEW and t.channel == Channel.POLICE110:
        queues.append("transfer")
    if status == S.RETURNED:
        queues.append("returned")
    if extension_pending:
        queues.append("extension")
    if status == S.COMPLETED:
        queues.append("review")
    if overdue:
        queues.append("overdue")
    if t.supervised and status not in CLOSED_STATES:
        queues.append("supervised")
    alarm = _alarm_state(t)
    if alarm in ("raised", "escalated"):
        queues.insert(0, "alarm")
    worker_id = lead.grid_worker_id if lead is not None else None
    text_ = shown_text(t.text)
    return {
        "number": t.number, "status": t.status, "version": t.version, "channel": t.channel,
        "type": t.type, "category": t.category_code, "urgency": t.urgency,
        "police_matter": t.police_matter, "text": text_, "address": t.address,
        "street": t.street_code, "community": t.community_code, "cell": t.cell_code,
        "lon": t.lon, "lat": t.lat,
        "department": lead.department_code if lead is not None else None,
        "grid_worker": (workers or {}).get(worker_id) if worker_id else None,
        "clock": clock, "deadline": _iso(deadline), "warn_at": _iso(warn_at),
        "overdue": bool(overdue), "supervised": bool(t.supervised),
        "extension_pending": extension_pending, "queues": queues,
        "open": status not in CLOSED_STATES,
        "created_at": _iso(t.created_at), "updated_at": _iso(t.updated_at),
        "alarm": alarm, "alarm_raised_at": _iso(t.alarm_raised_at),
        "auto_dispatched": bool(lead is not None and lead.auto_dispatched),
    }


def _alarm_state(t: Ticket) -> str | None:
    """None, or the alarm's state: raised (waiting for a dispatcher), escalated (to the
    supervisors, still waiting), acknowledged."""
    if t.alarm_raised_at is None:
        return None
    if t.alarm_acknowledged_at is not None:
        return "acknowledged"
    return "escalated" if t.alarm_escalated_at is not None else "raised"


def audience(t: Ticket) -> dict[str, Any]:
    """Who may see events of this ticket besides the all-seeing roles
    (dispatch/tickets/access.py)."""
    return {
        "departments": sorted({a.department_code for a in t.assignments}),
        "workers": sorted({a.grid_worker_id for a in t.assignments if a.grid_worker_id}),
        "cell": t.cell_code, "street": t.street_code,
    }


def rooms(aud: dict[str, Any]) -> list[str]:
    """The Socket.IO rooms an event goes to."""
    out = [ALL_ROOM]
    out += [f"dept:{d}" for d in aud.get("departments", ())]
    out += [f"worker:{w}" for w in aud.get("workers", ())]
    if aud.get("cell"):
        out.append(f"cell:{aud['cell']}")
    if aud.get("street"):
        out.append(f"street:{aud['street']}")
    return out


@dataclass(frozen=True)
class Viewer:
    """Who watches a console: what decides the rooms they join and the events replayed."""

    user_id: int
    role: str
    department: str | None = None
    cells: frozenset[str] = frozenset()

    def rooms(self) -> list[str]:
        """The rooms this viewer joins (dispatchers and the other all-seeing roles: all)."""
        if self.role in ALL_SEEING_ROLES:
            return [ALL_ROOM]
        out = [f"worker:{self.user_id}"] if self.role == Role.GRID_WORKER else []
        if self.role == Role.HANDLER and self.department:
            out.append(f"dept:{self.department}")
        if self.role == Role.GRID_WORKER:
            out += [f"cell:{c}" for c in sorted(self.cells)]
        return out

    def may_see(self, aud: dict[str, Any]) -> bool:
        """The same rule as the rooms, for replays from the database."""
        if self.role in ALL_SEEING_ROLES:
            return True
        if self.role == Role.HANDLER:
            return self.department is not None and self.department in aud.get("departments", ())
        if self.role == Role.GRID_WORKER:
            return self.user_id in aud.get("workers", ()) or aud.get("cell") in self.cells
        return False


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
    return {"seq": row.seq, "type": row.type, "action": row.action, "at": _iso(row.at),
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
           "replay", "summarise", "audience", "rooms", "message", "head", "board_seqs"]
