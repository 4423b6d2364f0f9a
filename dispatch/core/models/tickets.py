"""A ticket and what hangs off it: the day's counter that numbers it, the ticket, its
assignments (with their clocks), extensions, suspensions and delegated steps, its event
log, and the inbound contacts (with or without a ticket)."""

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
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.core.db import Base, JSONType, UTCDateTime, utcnow


class TicketCounter(Base):
    """Last ticket sequence number handed out for one local day (`YYYYMMDD`)."""

    __tablename__ = "ticket_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class Ticket(Base):
    """One citizen demand (工单), from intake to archive."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_status_created", "status", "created_at"),
        Index("ix_tickets_citizen_phone", "citizen_phone"),
        Index("ix_tickets_import_ref", "import_ref", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    channel: Mapped[str] = mapped_column(String(16), index=True)
    type: Mapped[str | None] = mapped_column(String(16), index=True)
    category_code: Mapped[str | None] = mapped_column(ForeignKey("categories.code"), index=True)
    urgency: Mapped[str] = mapped_column(String(10), default="normal")
    police_matter: Mapped[bool] = mapped_column(Boolean, default=False)
    text: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(20))

    citizen_name: Mapped[str | None] = mapped_column(String(60))
    citizen_phone: Mapped[str | None] = mapped_column(String(20))
    citizen_openid: Mapped[str | None] = mapped_column(String(64), index=True)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    direct_contact: Mapped[bool] = mapped_column(Boolean, default=False)

    address: Mapped[str | None] = mapped_column(String(200))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    cell_code: Mapped[str | None] = mapped_column(String(40), index=True)
    community_code: Mapped[str | None] = mapped_column(String(40))
    street_code: Mapped[str | None] = mapped_column(String(40), index=True)
    grid_version: Mapped[int | None] = mapped_column(Integer)
    location_flags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    routing: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    parent_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    external_ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The old system's number of a ticket imported from its history (`hotline tickets import`):
    # set only on imported tickets, unique, so a second import of the same file adds nothing.
    import_ref: Mapped[str | None] = mapped_column(String(64))
    police_state: Mapped[str | None] = mapped_column(String(16))
    police_cause: Mapped[str | None] = mapped_column(Text)

    supervised: Mapped[bool] = mapped_column(Boolean, default=False)
    supervise_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    callback_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    callback_attempts: Mapped[int] = mapped_column(Integer, default=0)
    satisfaction: Mapped[str | None] = mapped_column(String(24))
    resolved: Mapped[bool | None] = mapped_column(Boolean)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    # The emergency alarm of an unattended channel (DOMAIN.md, Triage): raised at intake,
    # acknowledged by a dispatcher, escalated to supervisors when not acknowledged in time.
    alarm_raised_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    alarm_acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    alarm_acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    alarm_escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # 会商定责: when the ticket was returned twice (or by two departments) and went to the
    # hotline office's queue; cleared when the office decides the lead (decide_lead).
    disputed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)

    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="ticket", order_by="Assignment.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[Event]] = relationship(
        back_populates="ticket", order_by="Event.id", cascade="all, delete-orphan"
    )
    extensions: Mapped[list[Extension]] = relationship(
        back_populates="ticket", order_by="Extension.id", cascade="all, delete-orphan"
    )
    suspensions: Mapped[list[Suspension]] = relationship(
        back_populates="ticket", order_by="Suspension.id", cascade="all, delete-orphan"
    )
    delegations: Mapped[list[Delegation]] = relationship(
        back_populates="ticket", order_by="Delegation.id", cascade="all, delete-orphan"
    )
    parent: Mapped[Ticket | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Ticket]] = relationship(back_populates="parent")

    # Optimistic concurrency: every UPDATE says `WHERE version = :seen`; a loser gets 0 rows.
    __mapper_args__ = {"version_id_col": version}


class Assignment(Base):
    """A dispatch of a ticket to one department (lead 主办 or co-handler 协办), with its clocks."""

    __tablename__ = "assignments"
    _SIGN_RUNNING = "status = 'dispatched' AND closed_at IS NULL AND sign_overdue_at IS NULL"
    _COMPLETE_RUNNING = ("status IN ('dispatched', 'signed') AND closed_at IS NULL "
                         "AND escalated_at IS NULL")
    __table_args__ = (
        Index("ix_assignments_department_status", "department_code", "status"),
        Index("ix_assignments_complete_deadline", "status", "complete_deadline"),
        # The clock sweep reads only open rows whose clock has not finished firing: partial
        # indexes keep just those (signed, completed, closed and finished rows drop out), so a
        # sweep scans a small range however large the table grows. A sign-for clock runs until
        # signed or overdue, a completion clock until completed or escalated; every step of a
        # clock comes at or after its warning time, hence the indexed column.
        Index("ix_assignments_sign_clock_due", "sign_warn_at",
              postgresql_where=text(_SIGN_RUNNING), sqlite_where=text(_SIGN_RUNNING)),
        Index("ix_assignments_complete_clock_due", "complete_warn_at",
              postgresql_where=text(_COMPLETE_RUNNING), sqlite_where=text(_COMPLETE_RUNNING)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    role: Mapped[str] = mapped_column(String(8))
    grid_worker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(12))
    dispatched_at: Mapped[datetime] = mapped_column(UTCDateTime())
    dispatched_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # 智能派单: dispatched by the system on a confident suggestion, not by a dispatcher.
    auto_dispatched: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    sign_deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    sign_warn_at: Mapped[datetime] = mapped_column(UTCDateTime())
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    complete_deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    complete_warn_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deadline_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    sign_limit: Mapped[dict[str, Any]] = mapped_column(JSONType)
    complete_limit: Mapped[dict[str, Any]] = mapped_column(JSONType)
    extensions_used: Mapped[int] = mapped_column(Integer, default=0)

    result: Mapped[str | None] = mapped_column(Text)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    return_reason: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # When the clock sweep fired each step (NULL: not yet); set in the transaction that writes
    # the urge, so each step fires once. An approved extension clears the completion marks.
    sign_warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sign_overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    complete_warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    complete_overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # While an approved suspension (挂起) stops the completion clock: its approved end date
    # (NULL: the clock runs). The request and its history are in `suspensions`.
    suspended_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    ticket: Mapped[Ticket] = relationship(back_populates="assignments")


class Extension(Base):
    """A request for more time (延期) on one assignment, and the dispatcher's decision."""

    __tablename__ = "extensions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    status: Mapped[str] = mapped_column(String(10))
    days: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    old_deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    new_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())

    ticket: Mapped[Ticket] = relationship(back_populates="extensions")


class Suspension(Base):
    """A request to stop one assignment's completion clock (挂起) until a date, the
    dispatcher's decision, and when the clock ran again. status: pending, refused, active
    (approved, the clock stopped), ended (resumed: by the assignee, the sweep at `until`, or a
    completion)."""

    __tablename__ = "suspensions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), index=True)
    reason: Mapped[str] = mapped_column(Text)
    until: Mapped[datetime] = mapped_column(UTCDateTime())
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    # The completion deadline and warning time when the clock stopped (restored and moved by
    # the suspended time when it runs again).
    old_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    old_warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    new_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())

    ticket: Mapped[Ticket] = relationship(back_populates="suspensions")


class Delegation(Base):
    """A delegated step (下派) of one assignment: a street office passes it to one of its
    communities or villages, or to a grid worker; a community may pass its step on to a grid
    worker (`parent_id`). The one below signs for and completes within its own clocks (inside
    the assignment's); the one above (`from_department_code`) reviews; a return goes one
    level up. status: see `DelegationStatus`."""

    __tablename__ = "delegations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("delegations.id"))
    from_department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"),
                                                        index=True)
    grid_worker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(12))
    delegated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delegated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sign_deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    complete_deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    review_reason: Mapped[str | None] = mapped_column(Text)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    return_reason: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set by the clock sweep when it urged the step for a passed deadline (each fires once).
    sign_overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    complete_overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    ticket: Mapped[Ticket] = relationship(back_populates="delegations")


class Event(Base):
    """One entry of a ticket's history; appended, never updated. Its id orders all events."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_action_at", "action", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class Contact(Base):
    """One inbound contact (a call, a WeChat message, a 110 transfer), with or without a ticket."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    openid: Mapped[str | None] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(64))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
