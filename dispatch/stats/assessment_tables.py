"""The tables of the monthly assessment (考核, DOMAIN.md "Assessment and appeals"): appeals and
publications. Declared on the one `Base`; imported by `dispatch.stats.assessment`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.core.db import Base, JSONType, UTCDateTime

PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"


class Appeal(Base):
    """A department's appeal (申诉) against one ticket's effect on its monthly assessment, and
    the hotline office's decision. state: pending, accepted, rejected."""

    __tablename__ = "appeals"
    __table_args__ = (UniqueConstraint("month", "department_code", "ticket_id",
                                       name="uq_appeals_month_department_ticket"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    attachments: Mapped[list[int]] = mapped_column(JSONType, default=list)
    state: Mapped[str] = mapped_column(String(10), index=True)
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    filed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)


class AssessmentPublication(Base):
    """One publication of a month's assessment: the locked snapshot (scores, ranks,
    deductions, the scheme used), its number (1 first, 2… each re-publication), who and when."""

    __tablename__ = "assessment_publications"
    __table_args__ = (UniqueConstraint("month", "number",
                                       name="uq_assessment_publications_month_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM
    number: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(Text)  # why it was published again
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONType)
