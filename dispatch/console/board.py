"""The console's board: the open tickets a viewer may see, newest first, each summarised as
the console's events summarise it and with the sequence number of its last console event."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from dispatch.console import feed, views
from dispatch.core.actors import Actor
from dispatch.core.models import Ticket, User
from dispatch.core.vocab import OPEN_STATES, Role
from dispatch.tickets.access import visible_tickets

BOARD_LIMIT = 3000


@dataclass(frozen=True)
class Board:
    """The board at one moment: the feed's head then, the tickets, whether it was cut."""

    seq: int
    tickets: list[dict[str, Any]]
    truncated: bool
    recent: list[dict[str, Any]] = field(default_factory=list)  # the feed's last events


def open_board(session: Session, actor: Actor, now: datetime, decorate: feed.Decorate,
               limit: int = BOARD_LIMIT) -> Board:
    """The open tickets `actor` may see (at most `limit`), summarised and decorated."""
    top = feed.head(session)  # read first: every event after it is replayed on resume
    tickets = list(session.scalars(
        select(Ticket).where(Ticket.status.in_([s.value for s in OPEN_STATES]),
                             visible_tickets(actor))
        .options(selectinload(Ticket.assignments), selectinload(Ticket.extensions))
        .order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit)))
    seqs = feed.board_seqs(session, [t.id for t in tickets])
    worker_ids = {a.grid_worker_id for t in tickets for a in t.assignments if a.grid_worker_id}
    workers = dict(session.execute(
        select(User.id, User.username).where(User.id.in_(worker_ids))).tuples().all())
    rows = []
    for t in tickets:
        summary = decorate(views.summarise(t, now, workers))
        summary["seq"] = seqs.get(t.id, 0)
        rows.append(summary)
    recent = feed.recent(session, viewer_of(actor), top, decorate)
    return Board(top, rows, len(tickets) == limit, recent)


def viewer_of(actor: Actor) -> views.Viewer:
    """The feed's viewer for this actor (a grid worker watches the cells of its duty)."""
    cells = frozenset(actor.cells) if actor.role == Role.GRID_WORKER else frozenset()
    return views.Viewer(actor.id or 0, actor.role, actor.department_code, cells)
