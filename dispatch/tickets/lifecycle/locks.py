"""Row locks on tickets, taken once per transaction (PostgreSQL; SQLite takes none)."""

from __future__ import annotations

from weakref import WeakSet

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, SessionTransaction

from dispatch.core.errors import StaleVersion
from dispatch.core.models import Ticket


def lock_ticket(session: Session, ticket: Ticket) -> None:
    """Take the ticket's row lock before writing anything, so every action locks in the same
    order (ticket first, then its assignments) and two actions cannot deadlock; refuse if the
    ticket changed since it was read.

    On PostgreSQL the lock is held until the transaction (or the savepoint that took it) ends,
    so nobody else can change the row meanwhile: a ticket this transaction locked already is
    not asked again (a batch of actions on one ticket locks it once)."""
    locked = session.info.get(_LOCKED)
    if locked is not None and ticket in locked:
        return
    current = session.execute(_LOCK, {"id": ticket.id}).scalar_one()
    if current != ticket.version:
        raise StaleVersion(f"工单 {ticket.number} 刚被他人修改，请刷新后重试",
                           field="version")
    if session.get_bind().dialect.name == "postgresql":  # SQLite takes no row locks
        session.info.setdefault(_LOCKED, WeakSet()).add(ticket)


_LOCKED = "tickets_locked"


_LOCK = (select(Ticket.version).where(Ticket.id == bindparam("id")).with_for_update()
         .execution_options(autoflush=False))


def locks_released(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None or transaction.nested:  # not a flush's subtransaction
        session.info.pop(_LOCKED, None)
