"""Publishing a month's assessment and the departments' appeals (申诉) against it (DOMAIN.md
"Assessment (考核) and appeals (申诉)").

- The hotline office publishes a finished month: the report of `dispatch.stats.assessment` is
  stored as a locked snapshot with its publication number; readers see the snapshot from then
  on. Every later publication (by hand, or because an appeal was accepted) is a new number with
  its reason, and the history is shown with the report.
- A department appeals one ticket that cost it points in the published month, within 5 working
  days of the month's first publication (the working-day calendar), with a reason and photos
  it uploaded to that ticket; once per ticket and month. The office accepts or rejects with a
  reason; an accepted appeal re-publishes the month without that ticket in that department's
  figures.
- Scoping: a department user sees its own row and its own appeals; leaders and the office all.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from dispatch.core.actors import Actor
from dispatch.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from dispatch.core.models import Ticket, User
from dispatch.core.vocab import Role
from dispatch.stats.assessment import (
    DEPARTMENTS,
    compute,
    deduction_tickets,
    department_row,
    month_span,
    parse_month,
)
from dispatch.stats.assessment_tables import (
    ACCEPTED,
    PENDING,
    REJECTED,
    Appeal,
    AssessmentPublication,
)
from dispatch.tickets.access import can_see
from dispatch.tickets.attachments import (
    MAX_UNUSED_PER_TICKET,
    Attachment,
    sanitise_name,
    store_image,
    verify_image,
)
from dispatch.tickets.calendar import LOCAL_TZ
from dispatch.tickets.clocks import add_working_days

APPEAL_WORKING_DAYS = 5
# The hotline office: publishes months and decides appeals.
OFFICE_ROLES = frozenset({Role.SUPERVISOR})
# Who sees every department's assessment and appeals.
ALL_SEEING = frozenset({Role.LEADER, Role.SUPERVISOR, Role.DISPATCHER, Role.ADMIN})
MAX_REASON = 2000


def _local(at: datetime) -> str:
    return at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def _office(actor: Actor, what: str) -> None:
    if actor.role not in OFFICE_ROLES:
        raise Forbidden(f"只有热线办（督办员）可以{what}")


def _reason(text: Any, field: str = "reason") -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(f"{field}: 必填，请写明理由", field=field)
    if len(text.strip()) > MAX_REASON:
        raise InvalidInput(f"{field}: 不能超过 {MAX_REASON} 个字符", field=field)
    if "\x00" in text:
        raise InvalidInput(f"{field}: 不能含 NUL 字符", field=field)
    return text.strip()


# ---------------------------------------------------------------- publications


def publications(session: Session, month: str) -> list[AssessmentPublication]:
    """A month's publications, the first first."""
    return list(session.scalars(select(AssessmentPublication)
                                .where(AssessmentPublication.month == month)
                                .order_by(AssessmentPublication.number)))


def appeal_deadline(session: Session, first: AssessmentPublication) -> datetime:
    """The end of the appeal window: the 5th working day after the first publication."""
    return add_working_days(session, first.published_at, APPEAL_WORKING_DAYS).at


def _publication_view(session: Session, p: AssessmentPublication) -> dict[str, Any]:
    by = session.get(User, p.published_by_id) if p.published_by_id else None
    return {"number": p.number, "published_at": p.published_at.isoformat(),
            "published_by": by.display_name if by else None, "reason": p.reason}


def assessment(session: Session, month: str, now: datetime, *,
               source: Literal["raw", "rollups"] = "raw") -> dict[str, Any]:
    """A month's assessment as readers see it: the latest publication's locked snapshot, or,
    before the first, the figures as they stand (state `draft`, from `source`), with the
    history of publications and the appeal window."""
    month = parse_month(month)
    done = publications(session, month)
    if not done:
        report = compute(session, month, now, source=source)
        return {**report, "state": "draft", "publication": None, "publications": [],
                "appeal_deadline": None, "finished": now >= month_span(month).ends_before}
    latest = done[-1]
    deadline = appeal_deadline(session, done[0])
    return {**latest.snapshot, "state": "published",
            "publication": _publication_view(session, latest),
            "publications": [_publication_view(session, p) for p in done],
            "appeal_deadline": deadline.isoformat(), "appeals_open": now <= deadline,
            "finished": True}


def scoped(report: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """What this actor may see of a report: every row for leaders and the office, its own
    department's row for a department user, nothing for others (Forbidden)."""
    if actor.role in ALL_SEEING:
        return report
    if actor.role == Role.HANDLER and actor.department_code:
        return {**report, "departments": [r for r in report["departments"]
                                          if r["department"] == actor.department_code]}
    raise Forbidden("无权查看考核结果")


def publish(session: Session, month: str, actor: Actor, now: datetime,
            reason: str | None = None) -> AssessmentPublication:
    """Publish (lock) a finished month's assessment as it stands; a month published before
    gets its next publication number (a re-publication, recorded with its reason)."""
    _office(actor, "发布考核结果")
    month = parse_month(month)
    if now < month_span(month).ends_before:
        raise Conflict(f"month: {month} 尚未结束，月份结束后才能发布考核结果", field="month")
    if reason is not None:
        reason = _reason(reason)
    last = session.scalar(select(func.max(AssessmentPublication.number))
                          .where(AssessmentPublication.month == month)) or 0
    if last and reason is None:
        reason = "重新发布"
    row = AssessmentPublication(month=month, number=last + 1, published_at=now,
                                published_by_id=actor.id, reason=reason,
                                snapshot=compute(session, month, now))
    _insert(session, row, f"month: {month} 的考核刚被他人发布，请刷新后再试")
    return row


def _insert(session: Session, row: Any, taken: str) -> None:
    """Add a row whose unique key another request may have just taken (two publications of
    one number, two appeals of one ticket): that race is a Conflict, nothing written."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise Conflict(taken, field=taken.split(":")[0]) from None


# ---------------------------------------------------------------- appeals


def file_appeal(session: Session, actor: Actor, data: dict[str, Any],
                now: datetime) -> Appeal:
    """A department's appeal against one ticket's effect on its published month (refused in
    Chinese, nothing written: another department, an unpublished month, after the window, a
    ticket that cost it nothing, a second appeal, photos not its own on that ticket)."""
    if actor.role != Role.HANDLER or not actor.department_code:
        raise Forbidden("只有被考核的部门可以申诉")
    department = data.get("department")
    if department != actor.department_code:
        raise Forbidden("department: 只能为本部门申诉", field="department")
    month = parse_month(data.get("month", ""))
    reason = _reason(data.get("reason"))
    done = publications(session, month)
    if not done:
        raise Conflict(f"month: {month} 的考核尚未发布，发布后 {APPEAL_WORKING_DAYS} 个工作日内"
                       "可以申诉", field="month")
    deadline = appeal_deadline(session, done[0])
    if now > deadline:
        raise Conflict(f"month: {month} 考核的申诉期已过（{_local(deadline)} 截止）",
                       field="month")
    number = data.get("ticket")
    ticket = session.scalar(select(Ticket).where(Ticket.number == number)) \
        if isinstance(number, str) else None
    if ticket is None:
        raise NotFound(f"ticket: 未找到工单 {number}", field="ticket")
    if ticket.number not in deduction_tickets(done[-1].snapshot, department):
        raise InvalidInput(f"ticket: 工单 {ticket.number} 没有影响本部门 {month} 的考核得分",
                           field="ticket")
    before = session.scalar(select(Appeal).where(
        Appeal.month == month, Appeal.department_code == department,
        Appeal.ticket_id == ticket.id))
    if before is not None:
        raise Conflict(f"ticket: 本部门已就工单 {ticket.number} 申诉过（申诉 {before.id}），"
                       "同一工单每月只能申诉一次", field="ticket")
    attachments = _own_photos(session, actor, ticket, data.get("attachments") or [])
    appeal = Appeal(month=month, department_code=department, ticket_id=ticket.id,
                    reason=reason, attachments=attachments, state=PENDING, filed_at=now,
                    filed_by_id=actor.id)
    _insert(session, appeal,
            f"ticket: 本部门已就工单 {ticket.number} 申诉过，同一工单每月只能申诉一次")
    return appeal


def _own_photos(session: Session, actor: Actor, ticket: Ticket, ids: Any) -> list[int]:
    if not isinstance(ids, list) or len(ids) > 9 or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise InvalidInput("attachments: 须为最多 9 个附件编号的列表", field="attachments")
    found = set(session.scalars(select(Attachment.id).where(
        Attachment.id.in_(ids), Attachment.ticket_id == ticket.id,
        Attachment.uploaded_by_id == actor.id)))
    for i in ids:
        if i not in found:
            raise InvalidInput(f"attachments: 附件 {i} 不是您为工单 {ticket.number} 上传的照片",
                               field="attachments")
    return list(dict.fromkeys(ids))


def add_appeal_photo(session: Session, actor: Actor, number: Any, data: bytes,
                     filename: str | None, *, storage_dir: Path, now: datetime,
                     max_bytes: int) -> Attachment:
    """A photo for a department's appeal, kept on the ticket appealed like any ticket photo
    (verified by content, re-encoded), also when the ticket is closed (an archived ticket is
    the usual subject of an appeal; its own actions take no more photos)."""
    if actor.role != Role.HANDLER or not actor.department_code:
        raise Forbidden("只有被考核的部门可以为申诉上传照片")
    ticket = session.scalar(select(Ticket).where(Ticket.number == number)) \
        if isinstance(number, str) else None
    if ticket is None or not can_see(session, actor, ticket):
        raise NotFound(f"ticket: 未找到工单 {number}", field="ticket")
    unused = session.scalar(select(func.count()).select_from(Attachment).where(
        Attachment.ticket_id == ticket.id, Attachment.uploaded_by_id == actor.id,
        Attachment.event_id.is_(None))) or 0
    if unused >= MAX_UNUSED_PER_TICKET:
        raise Conflict(f"你在此工单上已有 {unused} 张照片，不能再上传")
    image = verify_image(data, max_bytes=max_bytes)
    photo = Attachment(ticket_id=ticket.id, uploaded_by_id=actor.id,
                       content_type=image.content_type, size=len(image.content),
                       sha256=image.sha256, storage_key=store_image(image, storage_dir),
                       original_name=sanitise_name(filename), width=image.width,
                       height=image.height, created_at=now)
    session.add(photo)
    session.flush()
    return photo


def decide_appeal(session: Session, actor: Actor, appeal_id: int, accept: bool, reason: Any,
                  now: datetime) -> Appeal:
    """The office accepts or rejects a pending appeal with a reason; an accepted one
    re-publishes its month without that ticket in that department's figures."""
    _office(actor, "处理申诉")
    # Locked: of two decisions at once, the second sees the first's (PostgreSQL).
    appeal = session.get(Appeal, appeal_id, with_for_update=True)
    if appeal is None:
        raise NotFound(f"未找到申诉 {appeal_id}")
    text = _reason(reason)
    if appeal.state != PENDING:
        done = "已采纳" if appeal.state == ACCEPTED else "已驳回"
        raise Conflict(f"申诉 {appeal.id} 已处理（{done}），不能再次处理")
    appeal.state = ACCEPTED if accept else REJECTED
    appeal.decided_at, appeal.decided_by_id, appeal.decision_reason = now, actor.id, text
    session.flush()
    if accept:
        ticket = session.get(Ticket, appeal.ticket_id)
        number = ticket.number if ticket else appeal.ticket_id
        publish(session, appeal.month, actor, now,
                reason=f"采纳申诉 {appeal.id}：工单 {number} 不计入 {appeal.department_code} "
                       f"本月考核")
    return appeal


def appeals(session: Session, actor: Actor, month: str | None = None,
            state: str | None = None) -> list[dict[str, Any]]:
    """The appeals this actor may see (its department's, or all), newest first."""
    filed, decided = aliased(User), aliased(User)
    stmt = (select(Appeal, Ticket.number, DEPARTMENTS.c.name, filed.display_name,
                   decided.display_name)
            .join(Ticket, Ticket.id == Appeal.ticket_id)
            .join(DEPARTMENTS, DEPARTMENTS.c.code == Appeal.department_code)
            .outerjoin(filed, filed.id == Appeal.filed_by_id)
            .outerjoin(decided, decided.id == Appeal.decided_by_id)
            .order_by(Appeal.id.desc()))
    if actor.role not in ALL_SEEING:
        if actor.role != Role.HANDLER or not actor.department_code:
            raise Forbidden("无权查看申诉")
        stmt = stmt.where(Appeal.department_code == actor.department_code)
    if month is not None:
        stmt = stmt.where(Appeal.month == parse_month(month))
    if state is not None:
        if state not in (PENDING, ACCEPTED, REJECTED):
            raise InvalidInput("state: 须为 pending、accepted 或 rejected", field="state")
        stmt = stmt.where(Appeal.state == state)
    return [appeal_view(a, number, name, by, decider)
            for a, number, name, by, decider in session.execute(stmt)]


def appeal_view(a: Appeal, number: str, department_name: str | None = None,
                filed_by: str | None = None, decided_by: str | None = None) -> dict[str, Any]:
    """An appeal as the API gives it."""
    return {"id": a.id, "month": a.month, "department": a.department_code,
            "department_name": department_name, "ticket": number, "reason": a.reason,
            "attachments": list(a.attachments or []), "state": a.state,
            "filed_at": a.filed_at.isoformat(), "filed_by": filed_by,
            "decided_at": a.decided_at.isoformat() if a.decided_at else None,
            "decided_by": decided_by, "decision_reason": a.decision_reason}


__all__ = ["APPEAL_WORKING_DAYS", "OFFICE_ROLES", "ALL_SEEING", "publications", "assessment",
           "scoped", "publish", "file_appeal", "decide_appeal", "appeals", "appeal_view",
           "appeal_deadline", "department_row", "add_appeal_photo"]
