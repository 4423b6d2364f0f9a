"""The admin's audit viewer (CONTRACT.md, Administration: `GET /api/v1/admin/audit`): the ticket
events, the log of reads of unmasked personal data and the log of admin changes
(dispatch.core.audit), filtered, paged newest first, and exported to Excel.

It shows who did what, never a citizen's data: free texts are masked like a department user sees
them, the citizen's name is masked wherever it was typed, and a read shows which fields were read,
not their values (dispatch.stats.audit_view). Reading the audit is therefore not itself a read of
personal data (nothing is logged)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from dispatch.core.audit import SUBJECTS
from dispatch.core.errors import InvalidInput
from dispatch.core.models import AdminChange, Event, PersonalDataRead, Ticket, User
from dispatch.core.ports import Directory
from dispatch.stats.audit_view import (
    READ_FIELDS,
    SUBJECT_NAMES,
    Names,
    change_item,
    event_item,
    label_plain,
    read_item,
)
from dispatch.tickets.calendar import LOCAL_TZ

KINDS = ("events", "reads", "changes")
KIND_NAMES = {"events": "操作事件", "changes": "管理变更", "reads": "个人信息查阅"}
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200
MAX_PAGE = 100_000
EXPORT_MAX_ROWS = 10_000  # the most rows one export holds (the newest ones)


@dataclass(frozen=True)
class AuditFilter:
    """A checked audit query: which log, whose, which ticket, when, which action, which page.
    `start` is the first instant and `end` the first instant after the period."""

    kind: str
    user_id: int | None = None
    user: str | None = None
    ticket_id: int | None = None
    ticket: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    action: str | None = None
    subject: str | None = None
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    def described(self) -> str:
        """The filters in words (the export's 说明 sheet)."""
        parts = []
        if self.user:
            parts.append(f"用户：{self.user}")
        if self.ticket:
            parts.append(f"工单：{self.ticket}")
        if self.start or self.end:
            first = _local_text(self.start) if self.start else "最早"
            last = _local_text(self.end) if self.end else "现在"
            parts.append(f"时间：{first} 至 {last} 之前（北京时间）")
        if self.subject:
            parts.append(f"对象：{SUBJECT_NAMES.get(self.subject, self.subject)}")
        if self.action:
            parts.append(f"操作：{self.action}")
        return "；".join(parts) or "无（全部）"


@dataclass(frozen=True)
class AuditPage:
    """One page of an audit log, newest first."""

    items: list[dict[str, Any]]
    total: int
    page: int
    per_page: int

    def as_dict(self) -> dict[str, Any]:
        return {"items": self.items, "total": self.total, "page": self.page,
                "per_page": self.per_page, "export_limit": EXPORT_MAX_ROWS}


def _local_text(at: datetime) -> str:
    return at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")


def _moment(value: str, field: str) -> tuple[datetime, datetime]:
    """A day (YYYY-MM-DD, an Asia/Shanghai day) or a time (YYYY-MM-DDTHH:MM[:SS][±hh:mm],
    local unless an offset is given) as its first instant and the first instant after it."""
    text = value.strip()
    tz = LOCAL_TZ
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise InvalidInput(f"{field}: “{value}”不是有效的日期", field=field) from None
        first = datetime.combine(day, time(0), tzinfo=tz)
        return first, datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    match = re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?"
                         r"(Z|[+-]\d{2}:\d{2})?", text)
    if match is None:
        raise InvalidInput(f"{field}: 须为日期（YYYY-MM-DD）或时间（YYYY-MM-DD HH:MM）",
                           field=field)
    try:
        at = datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        raise InvalidInput(f"{field}: “{value}”不是有效的时间", field=field) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=tz)
    step = timedelta(seconds=1) if match.group(1) else timedelta(minutes=1)
    return at, at + step


def audit_filter(session: Session, kind: str, *, user: str | None = None,
                 ticket: str | None = None, start: str | None = None, end: str | None = None,
                 action: str | None = None, page: int = 1,
                 per_page: int = DEFAULT_PER_PAGE) -> AuditFilter:
    """Check an audit query (InvalidInput naming the field, in Chinese): `kind` one of KINDS;
    `user` a username (or a person's exact name); `ticket` a ticket number (not for changes);
    `start`/`end` days or times (an end day is included); `action` an event's action (events),
    a field read (reads: citizen, text, contact), or a subject, `subject/action` or an action
    (changes)."""
    if kind not in KINDS:
        raise InvalidInput(f"kind: 须为以下之一：{'、'.join(KINDS)}", field="kind")
    if not 1 <= page <= MAX_PAGE:
        raise InvalidInput(f"page: 须在 1 到 {MAX_PAGE} 之间", field="page")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput(f"per_page: 每页条数须在 1 到 {MAX_PER_PAGE} 之间", field="per_page")
    user, ticket, action = (v.strip() if v is not None else None for v in (user, ticket, action))
    user_id = ticket_id = None
    if user:
        found = session.execute(
            select(User.id, User.display_name).where(User.username == user)).first()
        if found is None:
            named = session.execute(select(User.id, User.display_name)
                                    .where(User.display_name == user)).all()
            if len(named) > 1:
                raise InvalidInput(f"user: 姓名为“{user}”的用户不止一个，请填用户名",
                                   field="user")
            found = named[0] if named else None
        if found is None:
            raise InvalidInput(f"user: 没有用户名或姓名为“{user}”的用户", field="user")
        user_id = found.id
        user = f"{found.display_name}（{user}）" if found.display_name != user else user
    if ticket:
        if kind == "changes":
            raise InvalidInput("ticket: 管理变更不涉及工单，请按用户、时间或操作筛选",
                               field="ticket")
        ticket_id = session.scalar(select(Ticket.id).where(Ticket.number == ticket))
        if ticket_id is None:
            raise InvalidInput(f"ticket: 没有编号为“{ticket}”的工单", field="ticket")
    first = _moment(start, "from")[0] if start else None
    after = _moment(end, "to")[1] if end else None
    if first is not None and after is not None and after <= first:
        raise InvalidInput("to: 结束时间早于开始时间", field="to")
    subject = None
    if action:
        action, subject = _action_filter(kind, action)
    return AuditFilter(kind, user_id, user or None, ticket_id, ticket or None, first, after,
                       action, subject, page, per_page)


def event_actions() -> tuple[str, ...]:
    """The actions a ticket event may record (intake and the lifecycle's table)."""
    from dispatch.tickets.lifecycle.table import TABLE

    return ("intake", *TABLE)


def _action_filter(kind: str, action: str) -> tuple[str | None, str | None]:
    """(action, subject) of an `action` filter, checked for the log it filters."""
    if kind == "events":
        if action not in event_actions():
            raise InvalidInput(f"action: 没有“{action}”这种工单操作", field="action")
        return action, None
    if kind == "reads":
        if action not in READ_FIELDS:
            raise InvalidInput(f"action: 查阅的内容须为以下之一：{'、'.join(READ_FIELDS)}",
                               field="action")
        return action, None
    subject, _, verb = action.partition("/") if "/" in action else (
        (action, "", "") if action in SUBJECTS else ("", "", action))
    if subject and subject not in SUBJECTS:
        raise InvalidInput(f"action: 没有“{subject}”这种管理对象", field="action")
    if len(verb) > 30 or (verb and not re.fullmatch(r"[a-z_]+", verb)):
        raise InvalidInput(f"action: 没有“{verb}”这种管理操作", field="action")
    return verb or None, subject or None


# ---------------------------------------------------------------- queries


def _conditions(f: AuditFilter) -> tuple[Any, list[Any]]:
    """The table of the log and the WHERE conditions of a filter."""
    model: Any = {"events": Event, "reads": PersonalDataRead, "changes": AdminChange}[f.kind]
    who = model.user_id if f.kind == "reads" else model.actor_id
    where: list[Any] = []
    if f.user_id is not None:
        where.append(who == f.user_id)
    if f.ticket_id is not None:
        where.append(model.ticket_id == f.ticket_id)
    if f.start is not None:
        where.append(model.at >= f.start)
    if f.end is not None:
        where.append(model.at < f.end)
    if f.kind == "events" and f.action:
        where.append(Event.action == f.action)
    if f.kind == "reads" and f.action:
        token = f.action
        where.append(or_(PersonalDataRead.fields == token,
                         PersonalDataRead.fields.like(f"{token},%"),
                         PersonalDataRead.fields.like(f"%,{token}"),
                         PersonalDataRead.fields.like(f"%,{token},%")))
    if f.kind == "changes":
        if f.subject:
            where.append(AdminChange.subject == f.subject)
        if f.action:
            where.append(AdminChange.action == f.action)
    return model, where


def audit_total(session: Session, f: AuditFilter) -> int:
    """How many entries of the log the filter matches."""
    model, where = _conditions(f)
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _rows(session: Session, f: AuditFilter, limit: int, offset: int) -> list[Any]:
    model, where = _conditions(f)
    query = select(model).where(*where).order_by(model.at.desc(), model.id.desc())
    return list(session.scalars(query.limit(limit).offset(offset)))


def _items(session: Session, f: AuditFilter, rows: Sequence[Any], directory: Directory,
           label: Callable[[str, Any], str]) -> list[dict[str, Any]]:
    names = Names(session, directory, label)
    if f.kind == "events":
        names.load_people((e.actor_id for e in rows),
                          (str(e.payload["grid_worker"]) for e in rows
                           if isinstance(e.payload, dict) and e.payload.get("grid_worker")))
        names.load_tickets(e.ticket_id for e in rows)
        return [event_item(e, names) for e in rows]
    if f.kind == "reads":
        names.load_people(r.user_id for r in rows)
        names.load_tickets(r.ticket_id for r in rows)
        return [read_item(r, names) for r in rows]
    names.load_people((c.actor_id for c in rows),
                      (c.key for c in rows if c.subject == "user"))
    return [change_item(c, names) for c in rows]


def audit_page(session: Session, f: AuditFilter, directory: Directory,
               label: Callable[[str, Any], str] = label_plain) -> AuditPage:
    """One page of the log the filter names, newest first, with names (not codes) for
    people, tickets and departments (`label` translates the codes of DOMAIN.md)."""
    total = audit_total(session, f)
    rows = _rows(session, f, f.per_page, (f.page - 1) * f.per_page)
    return AuditPage(_items(session, f, rows, directory, label), total, f.page, f.per_page)


# ---------------------------------------------------------------- the export's table

_HEADERS = {
    "events": (["时间", "操作人", "角色", "工单编号", "操作", "状态变化", "摘要"],
               [18, 12, 12, 22, 14, 22, 80]),
    "reads": (["时间", "查阅人", "工单编号", "联系记录", "查阅内容"], [18, 12, 22, 16, 36]),
    "changes": (["时间", "操作人", "对象", "名称/编码", "操作", "变更内容（原值 → 新值）"],
                [18, 12, 12, 24, 12, 90]),
}


@dataclass(frozen=True)
class AuditTable:
    """The filtered log as the Excel export writes it (dispatch.stats.export.listing_file):
    one row per entry, newest first, times as local wall-clock times, and the notes of the
    sheet 说明 (the filters, the count, the cap)."""

    title: str
    headers: list[str]
    widths: list[int]
    rows: list[list[Any]]
    notes: list[tuple[str, Any]]
    filename: str
    plain_filename: str


def _wall_clock(at: datetime) -> datetime:
    """A moment as the local wall-clock time (Excel has no time zones)."""
    return at.astimezone(LOCAL_TZ).replace(tzinfo=None)


def _cells(kind: str, item: dict[str, Any]) -> list[Any]:
    at = _wall_clock(datetime.fromisoformat(item["at"]))
    if kind == "events":
        moved = (f"{item['from_status']} → {item['to_status']}" if item["from_status"]
                 and item["from_status"] != item["to_status"] else item["to_status"])
        return [at, item["user"], item["role"], item["ticket"], item["action_name"], moved,
                item["summary"]]
    if kind == "reads":
        return [at, item["user"], item["ticket"] or "", item["contact"] or "",
                "、".join(item["field_names"])]
    changes = "\n".join(f"{c['field_name']}：{c['before'] or '（无）'} → {c['after'] or '（无）'}"
                        for c in item["changes"])
    return [at, item["user"], item["subject_name"], item["key_name"], item["action_name"],
            changes]


def audit_table(session: Session, f: AuditFilter, directory: Directory, now: datetime,
                label: Callable[[str, Any], str] = label_plain,
                limit: int | None = None) -> AuditTable:
    """The filtered log for an export: the newest `limit` entries (EXPORT_MAX_ROWS) and, when
    the filter matches more, a note in Chinese that the file holds only the newest ones."""
    cap = EXPORT_MAX_ROWS if limit is None else limit
    total = audit_total(session, f)
    items: list[dict[str, Any]] = []
    while len(items) < min(total, cap):
        rows = _rows(session, f, min(1_000, cap - len(items)), len(items))
        if not rows:
            break
        items += _items(session, f, rows, directory, label)
    count = f"共 {total} 条"
    if total > cap:
        count += (f"，超过导出上限 {cap} 条：本文件只列出最新的 {cap} 条，"
                  "请缩小筛选范围（时间、用户、工单、操作）后分别导出")
    title = KIND_NAMES[f.kind]
    headers, widths = _HEADERS[f.kind]
    day = now.astimezone(LOCAL_TZ).date().isoformat()
    return AuditTable(
        title=title, headers=headers, widths=widths,
        rows=[_cells(f.kind, it) for it in items],
        notes=[("内容", f"审计记录：{title}（按时间由新到旧）"),
               ("筛选条件", f.described()),
               ("行数", count),
               ("导出时间", _wall_clock(now)),
               ("说明", "审计记录只列出谁在何时做了什么，不含市民的个人信息；"
                        "文本中的电话、身份证号已隐去。")],
        filename=f"审计-{title}-{day}.xlsx", plain_filename=f"audit_{f.kind}_{day}.xlsx")
