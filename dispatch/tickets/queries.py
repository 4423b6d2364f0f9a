"""Finding tickets: one by number, and filtered, paged lists, always scoped to the user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints
from sqlalchemy import ColumnElement, Exists, and_, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from dispatch.core.commands import Code, Strict
from dispatch.core.errors import InvalidInput, NotFound
from dispatch.core.models import Assignment, Ticket
from dispatch.core.vocab import Channel, RequestType, Status, Urgency
from dispatch.intake.phones import normalize_phone
from dispatch.tickets.access import can_see, unmasked_citizen, visible_tickets
from dispatch.tickets.calendar import LOCAL_TZ
from dispatch.tickets.lifecycle import Actor

MAX_PER_PAGE = 100


def _parse_bound(value: str) -> date | datetime:
    """A date, or a datetime that says its time zone (a naive one is ambiguous)."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("须为日期（YYYY-MM-DD）或 ISO 时间") from None
    if moment.tzinfo is None:
        raise ValueError("时间须带时区，如 2026-11-23T08:00:00+08:00")
    return moment


if TYPE_CHECKING:
    Bound = date | datetime  # what the field holds once validated
else:
    Bound = Annotated[str, StringConstraints(max_length=40), AfterValidator(_parse_bound)]


class TicketRead(Strict):
    """The options of `GET /api/v1/tickets/<number>`."""

    masked: bool = Field(False, description="the citizen masked as for department users "
                                            "(no unmasked read is logged)")


class TicketFilter(Strict):
    """The filters of `GET /api/v1/tickets` (all optional)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)

    status: list[Status] = Field(default_factory=list)
    channel: list[Channel] = Field(default_factory=list)
    type: list[RequestType] = Field(default_factory=list)
    urgency: list[Urgency] = Field(default_factory=list)
    category: Code | None = Field(None, description="a category code; its subtree matches")
    department: Code | None = None
    overdue: bool | None = None
    supervised: bool | None = None
    disputed: bool | None = Field(None, description="in the hotline office's 定责 queue "
                                  "(returned twice, or by two departments, not yet decided)")
    created_from: Bound | None = Field(
        None, alias="from", description="a local date (YYYY-MM-DD) or a datetime with its "
        "time zone")
    created_to: Bound | None = Field(
        None, alias="to", description="a local date (inclusive) or a datetime with its "
        "time zone")
    q: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                        max_length=100)] | None = Field(
        None, description="text to find in the demand, address or number")
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = None
    page: int = Field(1, ge=1, le=100_000)
    per_page: int = Field(20, ge=1, le=MAX_PER_PAGE)


@dataclass(frozen=True)
class Page:
    items: list[Ticket]
    total: int
    page: int
    per_page: int


def get_ticket(session: Session, number: str, actor: Actor) -> Ticket:
    """The ticket with this number if this user may see it; otherwise NotFound."""
    if "\x00" in number:  # no ticket has one, and PostgreSQL cannot compare it
        raise NotFound("工单不存在")
    stmt = select(Ticket).where(Ticket.number == number)
    ticket = session.scalar(stmt)
    if ticket is None or not can_see(session, actor, ticket):
        raise NotFound(f"工单 {number} 不存在")
    return ticket


def _bound(value: date | datetime, *, end: bool) -> datetime:
    if isinstance(value, datetime):
        return value
    moment = time.max if end else time.min
    return datetime.combine(value, moment, tzinfo=LOCAL_TZ)


def overdue_clause(now: datetime) -> Exists:
    """Tickets with an active assignment past its sign-for or completion deadline."""
    return exists(select(Assignment.id).where(
        Assignment.ticket_id == Ticket.id,
        or_(
            and_(Assignment.status == "dispatched", Assignment.sign_deadline < now),
            and_(Assignment.status.in_(("dispatched", "signed")),
                 Assignment.complete_deadline < now),
        ),
    ))


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_tickets(session: Session, actor: Actor, f: TicketFilter, now: datetime) -> Page:
    """A page of the tickets this user may see, newest first."""
    conds = [visible_tickets(actor)]
    if f.status:
        conds.append(Ticket.status.in_(f.status))
    if f.channel:
        conds.append(Ticket.channel.in_(f.channel))
    if f.type:
        conds.append(Ticket.type.in_(f.type))
    if f.urgency:
        conds.append(Ticket.urgency.in_(f.urgency))
    if f.category:
        conds.append(or_(Ticket.category_code == f.category,
                         Ticket.category_code.like(_like(f.category + ".")[1:], escape="\\")))
    if f.department:
        conds.append(exists(select(Assignment.id).where(
            Assignment.ticket_id == Ticket.id, Assignment.department_code == f.department,
            Assignment.status != "cancelled")))
    if f.overdue is not None:
        clause = overdue_clause(now)
        conds.append(clause if f.overdue else ~clause)
    if f.supervised is not None:
        conds.append(Ticket.supervised.is_(f.supervised))
    if f.disputed is not None:
        conds.append(Ticket.disputed_at.is_not(None) if f.disputed
                     else Ticket.disputed_at.is_(None))
    start = _bound(f.created_from, end=False) if f.created_from else None
    stop = _bound(f.created_to, end=True) if f.created_to else None
    if start and stop and start > stop:
        raise InvalidInput("to: 结束时间早于开始时间", field="to")
    if start:
        conds.append(Ticket.created_at >= start)
    if stop:
        conds.append(Ticket.created_at <= stop)
    if f.q:
        pattern = _like(f.q)
        in_text: ColumnElement[bool] = Ticket.text.like(pattern, escape="\\")
        if any(c.isdigit() for c in f.q):
            # Digits may be part of a number typed into the text: found only where the text
            # reads unmasked, or a search would tell what the masking hides.
            in_text = and_(in_text, unmasked_citizen(actor))
        conds.append(or_(in_text, Ticket.address.like(pattern, escape="\\"),
                         Ticket.number.like(pattern, escape="\\")))
    if f.phone:
        # By the caller's phone only where it is shown unmasked (else: whose is this ticket?).
        conds.append(and_(Ticket.citizen_phone == normalize_phone(f.phone, "phone"),
                          unmasked_citizen(actor)))
    where = and_(*conds)
    total = session.scalar(select(func.count()).select_from(Ticket).where(where)) or 0
    items = session.scalars(
        select(Ticket).where(where).options(selectinload(Ticket.parent))
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(f.per_page).offset((f.page - 1) * f.per_page)
    ).all()
    return Page(list(items), total, f.page, f.per_page)
