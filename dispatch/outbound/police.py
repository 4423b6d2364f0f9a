"""What 12345 owes the 110 desk (DOMAIN.md "12345 ↔ 110"), and the nonces the desk used.

The domain builds the messages (transfers of police matters, acks of 110's transfers) and puts
them in the outbox in the transaction of the action that owes them; the police110 adapter only
signs and sends them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String, UniqueConstraint, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from dispatch.core.db import Base, UTCDateTime, upsert_insert
from dispatch.core.models import Category, Event, Ticket
from dispatch.core.vocab import AssignmentStatus, Channel
from dispatch.outbound import outbox
from dispatch.tickets.calendar import LOCAL_TZ

TRANSFER = "police110.transfer"
ACK = "police110.ack"
NONCE_WINDOW = timedelta(minutes=10)


class SeenNonce(Base):
    """A nonce the 110 desk signed with, kept for the replay window."""

    __tablename__ = "police110_nonces"
    __table_args__ = (UniqueConstraint("key_id", "nonce"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(128))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


def remember_nonce(session: Session, key_id: str, nonce: str, now: datetime) -> bool:
    """Record a nonce in the caller's transaction; False when it was seen within 10 minutes."""
    session.execute(delete(SeenNonce).where(SeenNonce.seen_at < now - NONCE_WINDOW))
    table = SeenNonce.__table__
    stmt = (upsert_insert(session, table).values(key_id=key_id, nonce=nonce, seen_at=now)
            .on_conflict_do_nothing().returning(table.c.id))
    return session.execute(stmt).scalar() is not None


def claim_nonce(session: Session, key_id: str, nonce: str, now: datetime) -> bool:
    """`remember_nonce` in one statement, for a hot path: a nonce seen more than 10 minutes ago
    is taken again (its row updated); rows past the window are left for `purge_nonces`."""
    table = SeenNonce.__table__
    stmt = upsert_insert(session, table).values(key_id=key_id, nonce=nonce, seen_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.key_id, table.c.nonce], set_={"seen_at": now},
        where=table.c.seen_at < now - NONCE_WINDOW).returning(table.c.id)
    return session.execute(stmt).scalar() is not None


def purge_nonces(session: Session, now: datetime) -> None:
    """Forget the nonces seen more than 10 minutes ago (in the caller's transaction)."""
    session.execute(delete(SeenNonce).where(SeenNonce.seen_at < now - NONCE_WINDOW))


def local_iso(moment: datetime) -> str:
    """A moment as 110 writes it: ISO 8601 in Asia/Shanghai (+08:00), to the second."""
    return moment.astimezone(LOCAL_TZ).replace(microsecond=0).isoformat()


def from_110(ticket: Ticket) -> bool:
    """The ticket came to us as a transfer from 110 (its incident number is the reference)."""
    return ticket.channel == Channel.POLICE110 and ticket.external_ref is not None


def transfer_message(session: Session, ticket: Ticket, reason: str | None,
                     now: datetime) -> dict[str, Any]:
    """A police matter as CONTRACT.md's transfer, keyed by our ticket number."""
    category = session.get(Category, ticket.category_code) if ticket.category_code else None
    remarks = [{"at": local_iso(now), "text": reason}] if reason else []
    return {
        "ticket_no": ticket.number,
        "received_at": local_iso(ticket.created_at),
        "caller": {"name": None if ticket.anonymous else ticket.citizen_name,
                   "phone": ticket.citizen_phone},
        "location": {"address": ticket.address, "lon": ticket.lon, "lat": ticket.lat,
                     "crs": "WGS84"},
        "category_hint": category.name if category is not None else None,
        "summary": ticket.text,
        "urgency": ticket.urgency,
        "remarks": remarks,
    }


def ack_message(ticket: Ticket, status: str, now: datetime, *, cause: str | None = None,
                result: str | None = None) -> dict[str, Any]:
    """Our answer to one of 110's transfers: accepted or rejected (with cause), or completed."""
    body: dict[str, Any] = {"incident_no": ticket.external_ref, "ticket_no": ticket.number,
                            "status": status}
    if status == "completed":
        body["result"] = result
    else:
        body["cause"] = cause
    body["at"] = local_iso(now)
    return body


def _count(session: Session, ticket: Ticket, action: str) -> int:
    return session.scalar(select(func.count()).select_from(Event).where(
        Event.ticket_id == ticket.id, Event.action == action)) or 0


def _last_result(ticket: Ticket) -> str | None:
    done = [a for a in ticket.assignments
            if a.role == "lead" and a.status == AssignmentStatus.COMPLETED and a.result]
    done.sort(key=lambda a: (a.completed_at, a.id))
    return done[-1].result if done else None


def owe_110(session: Session, ticket: Ticket, action: str, reason: str | None,
            now: datetime) -> None:
    """Put in the outbox what an action just taken owes the 110 desk, if anything.

    Keys count the action's events, so the same obligation is never owed twice while a ticket
    transferred again (or reviewed again after a reopen) owes a fresh message.
    """
    if action == "transfer_110" and not from_110(ticket):
        n = _count(session, ticket, "transfer_110")
        outbox.enqueue(session, TRANSFER, transfer_message(session, ticket, reason, now),
                       key=f"{TRANSFER}:{ticket.number}:{n}", ticket_id=ticket.id, now=now)
    elif not from_110(ticket):
        return
    elif action == "dispatch":
        # Only the first dispatch answers 110; a re-dispatch is our own business.
        outbox.enqueue(session, ACK, ack_message(ticket, "accepted", now),
                       key=f"{ACK}:{ticket.external_ref}:accepted", ticket_id=ticket.id,
                       now=now)
    elif action == "transfer_110":
        n = _count(session, ticket, "transfer_110")
        outbox.enqueue(session, ACK, ack_message(ticket, "rejected", now, cause=reason),
                       key=f"{ACK}:{ticket.external_ref}:rejected:{n}", ticket_id=ticket.id,
                       now=now)
    elif action == "review_accept":
        n = _count(session, ticket, "review_accept")
        outbox.enqueue(session, ACK,
                       ack_message(ticket, "completed", now, result=_last_result(ticket)),
                       key=f"{ACK}:{ticket.external_ref}:completed:{n}", ticket_id=ticket.id,
                       now=now)

