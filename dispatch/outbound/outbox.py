"""The outbox: what we owe an outside party, written in the same transaction as the change that
owes it, and delivered afterwards with retries and back-off until the party gives a receipt.

The domain decides what to send (`enqueue`); a deliverer (a Celery task, the CLI or a test)
calls `deliver_due` with the senders of the integrations, which only sign and send. Only
`TransientError` and `PermanentError` come back from a sender.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    bindparam,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from dispatch.core.db import Base, JSONType, UTCDateTime, upsert_insert

BACKOFF_BASE = timedelta(seconds=10)
BACKOFF_CAP = timedelta(hours=1)
JITTER = 0.2  # ± a fifth, so that rows failing together do not retry together
MAX_ERROR = 2000

Sender = Callable[[dict[str, Any]], dict[str, Any]]


class TransientError(Exception):
    """The party could not take the message now (down, timeout, 5xx, 429): try again later."""


class PermanentError(Exception):
    """The party refused the message for good (4xx): retrying would not help."""


class OutboxMessage(Base):
    """One message owed to an outside party, until it is delivered or declared dead."""

    __tablename__ = "outbox"
    __table_args__ = (
        # Claims read only what is still owed: delivered rows pile up, and must not slow
        # every claim down.
        Index("ix_outbox_pending", "due_at", "id",
              postgresql_where=text("delivered_at IS NULL AND NOT dead"),
              sqlite_where=text("delivered_at IS NULL AND NOT dead")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(40))
    # What makes a second enqueue of the same obligation a no-op.
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    receipt: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    dead: Mapped[bool] = mapped_column(Boolean, default=False)


@dataclass(frozen=True)
class DeliveryReport:
    """What one delivery round did, by outbox row id."""

    delivered: tuple[int, ...] = ()
    retried: tuple[int, ...] = ()
    dead: tuple[int, ...] = ()


_OWED = "outbox_owed"  # session.info: this session owed the outbox a message (see `owed`)


def owed(session: Session) -> bool:
    """Whether this session owed the outbox a message since the last time it was asked (the
    process that commits pokes its deliverer only then)."""
    return bool(session.info.pop(_OWED, False))


def enqueue(session: Session, topic: str, payload: dict[str, Any], *, key: str,
            ticket_id: int | None, now: datetime) -> bool:
    """Owe a message, in the caller's transaction; False when `key` was already owed."""
    row = {"topic": topic, "dedupe_key": key, "ticket_id": ticket_id, "payload": payload,
           "created_at": now, "due_at": now, "attempts": 0, "last_error": None,
           "delivered_at": None, "receipt": None, "dead": False}
    table = OutboxMessage.__table__
    stmt = (upsert_insert(session, table).values(row).on_conflict_do_nothing()
            .returning(table.c.id))  # rowcount is not reliable for ON CONFLICT on every driver
    new = session.execute(stmt).scalar() is not None
    if new:
        session.info[_OWED] = True
    return new


_ENQUEUE_MANY_PG = text(
    "INSERT INTO outbox (topic, dedupe_key, ticket_id, payload, created_at, due_at, attempts, "
    "receipt, dead) "  # receipt: JSON null, as `enqueue` writes it
    "SELECT :topic, m.key, m.ticket_id, m.payload, :now, :now, 0, 'null'::jsonb, false "
    "FROM unnest(CAST(:keys AS text[]), CAST(:tickets AS integer[]), "
    "CAST(:payloads AS jsonb[])) AS m(key, ticket_id, payload) "
    "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id"
).bindparams(bindparam("now", type_=UTCDateTime()))


def enqueue_many(session: Session, topic: str, messages: Sequence[Mapping[str, Any]], *,
                 now: datetime) -> int:
    """Owe many messages at once, in the caller's transaction (one multi-row INSERT per few
    hundred rows); each message is {"payload", "key", "ticket_id"}. How many were new: a key
    already owed is skipped, as by `enqueue`."""
    if not messages:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        # Three arrays, not eleven parameters a row: psycopg's cost is per parameter.
        stmt = _ENQUEUE_MANY_PG.bindparams(
            topic=topic, now=now, keys=[m["key"] for m in messages],
            tickets=[m["ticket_id"] for m in messages],
            payloads=[json.dumps(m["payload"], ensure_ascii=False) for m in messages])
        added = len(session.execute(stmt).all())
    else:
        added = _enqueue_rows(session, topic, messages, now)
    if added:
        session.info[_OWED] = True
    return added


def _enqueue_rows(session: Session, topic: str, messages: Sequence[Mapping[str, Any]],
                  now: datetime) -> int:
    rows = [{"topic": topic, "dedupe_key": m["key"], "ticket_id": m["ticket_id"],
             "payload": m["payload"], "created_at": now, "due_at": now, "attempts": 0,
             "last_error": None, "delivered_at": None, "receipt": None, "dead": False}
            for m in messages]
    table = OutboxMessage.__table__
    stmt = upsert_insert(session, table).on_conflict_do_nothing().returning(table.c.id)
    return len(session.execute(stmt, rows).all())


def claim_due(session: Session, now: datetime, limit: int,
              topics: Iterable[str] | None = None) -> list[OutboxMessage]:
    """Rows due for delivery, locked so that another deliverer skips them (PostgreSQL)."""
    stmt = (select(OutboxMessage)
            .where(OutboxMessage.delivered_at.is_(None), OutboxMessage.dead.is_(False),
                   OutboxMessage.due_at <= now)
            .order_by(OutboxMessage.due_at, OutboxMessage.id).limit(limit)
            .with_for_update(skip_locked=True))  # SQLite has no row locks: plain select
    if topics is not None:
        stmt = stmt.where(OutboxMessage.topic.in_(list(topics)))
    return list(session.scalars(stmt))


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """How long to wait after the n-th failed attempt: 10 s · 2^(n-1), at most 1 h, jittered."""
    base = min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_CAP)
    return base * (1 + (rng or random).uniform(-JITTER, JITTER))


def deliver_due(sessions: Session | Callable[[], Session], senders: Mapping[str, Sender],
                now: datetime, limit: int = 50, rng: random.Random | None = None
                ) -> DeliveryReport:
    """Deliver due rows one at a time, each in its own committed transaction.

    A row stays locked while its sender runs, so two deliverers never send it twice; its
    delivered mark is committed before the next row is taken, so a crash loses none.
    """
    own = not isinstance(sessions, Session)
    session = sessions if isinstance(sessions, Session) else sessions()
    delivered: list[int] = []
    retried: list[int] = []
    dead: list[int] = []
    try:
        for _ in range(limit):
            rows = claim_due(session, now, 1, senders.keys())
            if not rows:
                break
            row = rows[0]
            row.attempts += 1
            try:
                receipt = senders[row.topic](dict(row.payload))
            except TransientError as exc:
                row.last_error = str(exc)[:MAX_ERROR] or type(exc).__name__
                row.due_at = now + backoff(row.attempts, rng)
                retried.append(row.id)
            except PermanentError as exc:
                row.last_error = str(exc)[:MAX_ERROR] or type(exc).__name__
                row.dead = True
                dead.append(row.id)
            except BaseException:
                session.rollback()  # a sender bug: leave the row as it was, unlocked
                raise
            else:
                row.delivered_at = now
                row.receipt = receipt
                row.last_error = None
                delivered.append(row.id)
            session.commit()
    finally:
        if own:
            session.close()
    return DeliveryReport(tuple(delivered), tuple(retried), tuple(dead))


def pending(session: Session, topic: str | None = None) -> list[OutboxMessage]:
    """Rows not yet delivered and not dead, oldest first (for inspection)."""
    stmt = (select(OutboxMessage)
            .where(OutboxMessage.delivered_at.is_(None), OutboxMessage.dead.is_(False))
            .order_by(OutboxMessage.due_at, OutboxMessage.id))
    if topic is not None:
        stmt = stmt.where(OutboxMessage.topic == topic)
    return list(session.scalars(stmt))
