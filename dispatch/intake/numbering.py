"""Ticket numbers: `12345-YYYYMMDD-NNNNNN`, a per-day sequence safe under concurrent intake."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from dispatch.core.db import adding_upsert
from dispatch.core.models import TicketCounter
from dispatch.tickets.calendar import LOCAL_TZ

PREFIX = "12345"


def next_ticket_number(session: Session, now: datetime) -> str:
    """Take the next number of the local day of `now`.

    One upsert: on PostgreSQL the counter row stays locked until the intake commits, so two
    intakes never share a number; a rolled-back intake leaves a gap, never a duplicate.
    """
    day = now.astimezone(LOCAL_TZ).strftime("%Y%m%d")
    stmt = adding_upsert(session, TicketCounter.__table__, ["day"], ["last"], returning="last")
    sequence = session.execute(stmt, {"day": day, "last": 1}).scalar_one()
    return f"{PREFIX}-{day}-{sequence:06d}"
