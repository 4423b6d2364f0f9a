"""The tables of calls: one row per call (folded from its events), the events as they came
(one per call and kind), agent states by extension, and the callback tries of missed calls."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.core.db import Base, JSONType, UTCDateTime


class Call(Base):
    """One call through the call centre: what its events said, folded (whatever their order),
    and what the hotline did about it (the contact and ticket logged, the callback owed)."""

    __tablename__ = "calls"
    __table_args__ = (
        # The 漏接回拨 queue reads only what is still owed.
        Index("ix_calls_missed_open", "missed_deadline",
              postgresql_where=text("missed_deadline IS NOT NULL AND called_back_at IS NULL"),
              sqlite_where=text("missed_deadline IS NOT NULL AND called_back_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    caller: Mapped[str | None] = mapped_column(String(32), index=True)
    callee: Mapped[str | None] = mapped_column(String(32))
    agent_extension: Mapped[str | None] = mapped_column(String(12), index=True)
    agent_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # An extension no user has: the call is kept and shown to dispatchers, not lost.
    unknown_agent: Mapped[bool] = mapped_column(Boolean, default=False)
    queue: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(12), index=True)
    rang_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    transferred_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    transfer_to: Mapped[str | None] = mapped_column(String(32))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    wait_s: Mapped[float | None] = mapped_column(Float)
    duration_s: Mapped[float | None] = mapped_column(Float)
    recording_url: Mapped[str | None] = mapped_column(String(500))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    # 漏接回拨: an abandoned call that reached no operator is owed a callback by this time.
    missed_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    called_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    callback_tries: Mapped[int] = mapped_column(Integer, default=0)
    # 一键转接 asked by an operator (the command goes through the outbox).
    transfer_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    transfer_requested_to: Mapped[str | None] = mapped_column(String(32))
    transfer_mode: Mapped[str | None] = mapped_column(String(10))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CallEvent(Base):
    """One event of a call as the call centre sent it; the same (call, event) is kept once."""

    __tablename__ = "call_events"
    __table_args__ = (UniqueConstraint("call_id", "event"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(12))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class AgentState(Base):
    """An extension's agent state (示闲, 示忙, 通话中, 话后处理) since when."""

    __tablename__ = "agent_states"

    extension: Mapped[str] = mapped_column(String(12), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(10))
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    call_id: Mapped[str | None] = mapped_column(String(64))


class CallbackAttempt(Base):
    """One try at calling back a missed call: who, when, with what outcome."""

    __tablename__ = "call_callback_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_pk: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
