"""Who uses the system and the traces they leave: users, machine clients' API tokens,
the audit of reads of personal data and of administrative changes, and clients'
idempotency keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.core.db import Base, JSONType, UTCDateTime, utcnow


class User(Base):
    """A person or machine client with one role of DOMAIN.md (and a department for handlers)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(60))
    role: Mapped[str] = mapped_column(String(16))
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"))
    phone: Mapped[str | None] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Raised by logout, a password change and a disabling: every session cookie carries the
    # epoch it was signed in under, and one from an older epoch is refused on every process.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Set by an admin's password reset: the person must choose a new password before anything
    # else (every page sends them to the password page until they do).
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False,
                                                       server_default=false())
    extension: Mapped[str | None] = mapped_column(String(12))  # the desk phone's extension (分机号)


class ApiToken(Base):
    """A bearer token for machine clients; only its SHA-256 digest is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PersonalDataRead(Base):
    """Audit of every read of a citizen's unmasked personal data: of a ticket's, or of a
    contact that belongs to no ticket (a call that ended without one)."""

    __tablename__ = "personal_data_reads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    fields: Mapped[str] = mapped_column(String(60))


class AdminChange(Base):
    """One administrative change (who, when, what, before → after): a user, a department, a
    category, a catalogue rule, a setting... `subject` names the kind of thing, `key` which one;
    `before` is null for a creation, `after` null for a removal."""

    __tablename__ = "admin_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    subject: Mapped[str] = mapped_column(String(30), index=True)
    key: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(30))
    before: Mapped[Any] = mapped_column(JSONType, nullable=True)
    after: Mapped[Any] = mapped_column(JSONType, nullable=True)


class IdempotencyKey(Base):
    """A client's `Idempotency-Key` on intake or an action, with the first answer it got:
    claimed in the transaction of the writes it guards, kept 24 hours
    (`dispatch.core.idempotency`)."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of method, path and body
    http_status: Mapped[int] = mapped_column(Integer, default=0)  # 0 until the answer is stored
    response: Mapped[Any] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
