"""WeChat messages durably accepted before they are acted on (a burst: the hook answers within
WeChat's 5 seconds by storing the raw message, one INSERT keyed by its MsgId, and replying that
the ticket number follows; the message is processed off the request and the number goes out as
a customer-service message through the outbox).

A retried push of a held MsgId inserts nothing (the MsgId is unique) and gets the same reply.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, literal, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from dispatch.core.db import Base, JSONType, UTCDateTime, upsert_insert
from dispatch.core.models import Contact
from dispatch.core.vocab import Channel
from integrations.wechat.inbound import Message

# A held message that failed this many times is left for a person to look at (last_error).
MAX_ATTEMPTS = 5


class HeldMessage(Base):
    """One WeChat message accepted by the hook and not yet (or already) processed."""

    __tablename__ = "wechat_inbox"
    __table_args__ = (
        # The processor reads only what waits: processed rows pile up.
        Index("ix_wechat_inbox_waiting", "id",
              postgresql_where=text("processed_at IS NULL"),
              sqlite_where=text("processed_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    msg_id: Mapped[str] = mapped_column(String(64), unique=True)
    openid: Mapped[str] = mapped_column(String(64), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    message: Mapped[dict[str, Any]] = mapped_column(JSONType)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ticket_number: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


def hold(session: Session, message: Message, now: datetime) -> bool:
    """Store a message to process later, in the caller's transaction; False when its MsgId
    was held already (a retry: nothing new is written)."""
    assert message.msg_id is not None
    table = HeldMessage.__table__
    stmt = (upsert_insert(session, table)
            .values(msg_id=message.msg_id, openid=message.from_user, received_at=now,
                    message=asdict(message), processed_at=None, ticket_number=None,
                    attempts=0, last_error=None)
            .on_conflict_do_nothing().returning(table.c.id))
    return session.execute(stmt).scalar() is not None


def hold_unless_recorded(session: Session, message: Message, now: datetime) -> bool:
    """`hold` in one statement, unless the MsgId was recorded as a contact already: False when
    it was held or recorded before (a retry: look the answer up, nothing was written)."""
    assert message.msg_id is not None
    table = HeldMessage.__table__
    recorded = select(Contact.id).where(Contact.channel == Channel.WECHAT,
                                        Contact.external_id == message.msg_id).exists()
    row = select(literal(message.msg_id, String(64)), literal(message.from_user, String(64)),
                 literal(now, UTCDateTime()), literal(asdict(message), JSONType),
                 literal(0, Integer)).where(~recorded)
    stmt = (upsert_insert(session, table)
            .from_select(["msg_id", "openid", "received_at", "message", "attempts"], row)
            .on_conflict_do_nothing().returning(table.c.id))
    return session.execute(stmt).scalar() is not None


def is_held(session: Session, msg_id: str, openid: str | None = None) -> bool:
    """Whether this MsgId was accepted into the inbox (processed or not), from `openid` when
    it is given."""
    stmt = select(HeldMessage.id).where(HeldMessage.msg_id == msg_id)
    if openid is not None:
        stmt = stmt.where(HeldMessage.openid == openid)
    return session.scalar(stmt) is not None


def claim_next(session: Session) -> HeldMessage | None:
    """The oldest message still waiting, locked so that another processor skips it
    (PostgreSQL; SQLite has no row locks and a single writer)."""
    stmt = (select(HeldMessage)
            .where(HeldMessage.processed_at.is_(None), HeldMessage.attempts < MAX_ATTEMPTS)
            .order_by(HeldMessage.id).limit(1).with_for_update(skip_locked=True))
    return session.scalars(stmt).first()


def message_of(row: HeldMessage) -> Message:
    """The message as the hook read it."""
    return Message(**row.message)


def record_failure(session: Session, row_id: int, error: str) -> None:
    """Count a failed attempt (after a rollback), in its own small transaction by the caller."""
    session.execute(update(HeldMessage).where(HeldMessage.id == row_id).values(
        attempts=HeldMessage.attempts + 1, last_error=error[:2000]))


def waiting(session: Session) -> int:
    """How many held messages wait to be processed."""
    return len(session.scalars(select(HeldMessage.id).where(
        HeldMessage.processed_at.is_(None), HeldMessage.attempts < MAX_ATTEMPTS)).all())
