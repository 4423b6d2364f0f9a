"""The log of administrative changes (CONTRACT.md, Administration): every change an admin makes
to users, departments, categories, the catalogue, time limits, the calendar, the knowledge base,
the grid, the roster, the classifier and the settings is recorded here in the same transaction,
as who, when, what, before → after.

`record_change` is the one writer; the domain function that makes a change calls it, so the API,
the pages, the CLI and the imports are all recorded the same way."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from dispatch.core.db import utcnow
from dispatch.core.errors import InvalidInput
from dispatch.core.models import AdminChange, Category, Event, PersonalDataRead, Ticket, User
from dispatch.core.ports import Directory

# What `subject` may name (the kinds of things an admin changes).
SUBJECTS = (
    "user", "department", "category", "catalogue_rule", "time_limits", "calendar",
    "kb_article", "grid_version", "roster", "classifier_rule", "classifier_model",
    "repeat_rules", "triage_settings", "setting",
)


def _plain(value: Any) -> Any:
    """A value as JSON can hold it (dates as ISO text, enums as their value, sets sorted)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def record_change(session: Session, actor_id: int | None, subject: str, key: str | int,
                  action: str, before: Any = None, after: Any = None,
                  at: datetime | None = None) -> AdminChange | None:
    """Record one change in the caller's transaction. `before` is None for a creation, `after`
    None for a removal; an update whose before equals its after records nothing."""
    if subject not in SUBJECTS:
        raise ValueError(f"unknown subject of an admin change: {subject!r}")
    plain_before, plain_after = _plain(before), _plain(after)
    if before is not None and after is not None and plain_before == plain_after:
        return None
    row = AdminChange(at=at or utcnow(), actor_id=actor_id, subject=subject, key=str(key)[:120],
                      action=action, before=plain_before, after=plain_after)
    session.add(row)
    return row


def changed_fields(before: dict[str, Any] | None,
                   after: dict[str, Any] | None) -> dict[str, tuple[Any, Any]]:
    """Field → (before, after) for the fields that differ (what the audit page shows)."""
    old, new = before or {}, after or {}
    return {k: (old.get(k), new.get(k)) for k in sorted(set(old) | set(new))
            if old.get(k) != new.get(k)}


# ---------------------------------------------------------------- the read side
#
# The admin's audit viewer (CONTRACT.md, Administration: `GET /api/v1/admin/audit`): the
# ticket events, the log of reads of unmasked personal data and the log of admin changes,
# filtered, paged newest first, and exported to Excel. It shows who did what, never a
# citizen's data: free texts are masked like a department user sees them, the citizen's name
# is masked wherever it was typed, and a read shows which fields were read, not their values.
# Reading the audit is therefore not itself a read of personal data (nothing is logged).

KINDS = ("events", "reads", "changes")
KIND_NAMES = {"events": "操作事件", "changes": "管理变更", "reads": "个人信息查阅"}
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200
MAX_PAGE = 100_000
EXPORT_MAX_ROWS = 10_000  # the most rows one export holds (the newest ones)
SUMMARY_CHARS = 60  # a free text in an event's summary is cut to this many characters

# What a read of personal data showed (dispatch.tickets.readmodel: `fields`, comma-joined).
READ_FIELDS = {"citizen": "来电人姓名/电话", "text": "诉求内容中的号码",
               "contact": "联系记录的来电号码"}
SUBJECT_NAMES = {
    "user": "用户", "department": "部门", "category": "事项分类", "catalogue_rule": "派单目录",
    "time_limits": "时限", "calendar": "工作日历", "kb_article": "知识库条目",
    "grid_version": "网格版本", "roster": "值班表", "classifier_rule": "分类规则",
    "classifier_model": "分类模型", "repeat_rules": "重复规则", "triage_settings": "分诊设置",
    "setting": "系统设置",
}
CHANGE_ACTIONS = {
    "create": "新增", "update": "修改", "delete": "删除", "enable": "启用", "disable": "停用",
    "reset_password": "重置密码", "unlock": "解除锁定", "rename": "改名", "move": "移动",
    "deactivate": "停用", "activate": "启用", "publish": "发布", "retire": "下架",
    "import": "导入", "train": "训练", "review": "审核", "replace": "替换",
    "draft": "起草", "reject": "退回",
}
# The fields of recorded states as a person reads them (the key itself when not here).
FIELD_NAMES = {
    "username": "用户名", "display_name": "姓名", "role": "角色", "roles": "角色",
    "department": "部门", "department_code": "部门", "phone": "电话", "phones": "短信通知电话",
    "extension": "分机号", "active": "启用", "must_change_password": "须改密码",
    "password_reset_at": "密码重置时间", "locked": "登录锁定", "name": "名称", "code": "编码",
    "kind": "类别", "parent_code": "上级", "parent": "上级", "street_code": "所属街道",
    "sort_order": "排序", "level": "层级", "category": "分类", "lead": "主办部门",
    "co_handlers": "协办部门", "on_site": "需到现场", "title": "标题", "body": "正文",
    "status": "状态", "valid_from": "生效日期", "valid_to": "失效日期", "value": "值",
    "cell": "网格", "starts_at": "开始", "ends_at": "结束", "working": "工作日",
    "source": "来源", "version": "版本", "threshold": "门槛", "phrase": "短语",
    "area": "区域", "co_territorial": "属地协办", "note": "备注", "street": "所属街道",
    "weekdays": "值班日", "starts": "开始", "ends": "结束", "file": "文件", "added": "新增条数",
    "duties": "值班", "cells": "网格数", "areas": "区域数", "active_version": "启用的版本",
    "active_version_before": "原启用的版本", "field": "字段", "weight": "权重",
}
HIDDEN_VALUE = "（已隐藏）"
# dispatch.tickets.calendar's LOCAL_TZ, not imported from there: the calendar records its own
# changes through this module (no import cycle, even a lazy one).
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
# Labels of the event payload keys an event's summary shows, in this order (see `_summary`).
_FREE_TEXT = (("answer", "答复"), ("result", "办理结果"), ("text", "内容"), ("note", "备注"),
              ("cause", "原因"), ("reason", "理由"))


def label_plain(group: str, code: Any) -> str:
    """The default `label`: a code as itself (the web passes the translation table)."""
    return "" if code is None else str(code)


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


class _Names:
    """The names of the people, tickets, departments and categories a page of the log
    mentions, each read once."""

    def __init__(self, session: Session, directory: Directory,
                 label: Callable[[str, Any], str]) -> None:
        self.session, self.directory, self.label = session, directory, label
        self.people: dict[int, tuple[str, str]] = {}
        self.usernames: dict[str, str] = {}
        self.tickets: dict[int, tuple[str, str | None]] = {}
        self.departments: dict[str, str] = {}
        self.categories: dict[str, str] | None = None

    def load_people(self, ids: Iterable[int | None], usernames: Iterable[str] = ()) -> None:
        wanted = {i for i in ids if i is not None} - set(self.people)
        names = set(usernames) - set(self.usernames)
        if wanted or names:
            rows = self.session.execute(select(User.id, User.username, User.display_name).where(
                or_(User.id.in_(wanted), User.username.in_(names))))
            for r in rows:
                self.people[r.id] = (r.display_name, r.username)
                self.usernames[r.username] = r.display_name

    def load_tickets(self, ids: Iterable[int | None]) -> None:
        wanted = {i for i in ids if i is not None} - set(self.tickets)
        if wanted:
            rows = self.session.execute(select(Ticket.id, Ticket.number, Ticket.citizen_name)
                                        .where(Ticket.id.in_(wanted)))
            self.tickets.update({r.id: (r.number, r.citizen_name) for r in rows})

    def person(self, user_id: int | None) -> tuple[str, str | None]:
        """(name, username) of a user; the system for none."""
        if user_id is None or user_id not in self.people:
            return "系统", None
        return self.people[user_id]

    def by_username(self, username: Any) -> str:
        return self.usernames.get(str(username), str(username))

    def department(self, code: Any) -> str:
        if code is None:
            return ""
        code = str(code)
        if code not in self.departments:
            found = self.directory.department(code)
            self.departments[code] = found.name if found else code
        return self.departments[code]

    def category(self, code: Any) -> str:
        if self.categories is None:
            rows = self.session.execute(select(Category.code, Category.name)).tuples()
            self.categories = dict(rows.all())
        return self.categories.get(str(code), str(code))


def _shown(text: Any, citizen: str | None) -> str:
    """A free text as the audit shows it: typed numbers and the citizen's name masked, cut."""
    from dispatch.intake.phones import mask_name, mask_text

    out = mask_text(str(text))
    if citizen and len(citizen) > 1:
        out = out.replace(citizen, mask_name(citizen))
    return out if len(out) <= SUMMARY_CHARS else out[:SUMMARY_CHARS] + "…"


def _summary(e: Event, names: _Names, citizen: str | None) -> str:
    """What an event did, in a line: its departments, people and texts (masked), by name."""
    p: dict[str, Any] = e.payload or {}
    parts: list[str] = []
    if e.action == "intake" and p.get("channel"):
        parts.append(f"渠道：{names.label('channel', p['channel'])}")
    if p.get("lead"):
        parts.append(f"主办：{names.department(p['lead'])}")
    if p.get("co_handlers"):
        parts.append("协办：" + "、".join(names.department(c) for c in p["co_handlers"]))
    if p.get("department") and not p.get("lead"):
        role = f"（{names.label('assignment_role', p['role'])}）" if p.get("role") else ""
        parts.append(f"部门：{names.department(p['department'])}{role}")
    if p.get("grid_worker"):
        parts.append(f"网格员：{names.by_username(p['grid_worker'])}")
    if p.get("dispatched_by"):
        parts.append(names.label("dispatched_by", p["dispatched_by"]))
    if p.get("parent"):
        parts.append(f"主单：{p['parent']}")
    if p.get("repeat_linked"):
        parts.append(f"并入：{p['repeat_linked']}")
    if p.get("days"):
        parts.append(f"天数：{p['days']}")
    if p.get("satisfaction"):
        parts.append(f"满意度：{names.label('satisfaction', p['satisfaction'])}")
    if p.get("resolved") is not None and "resolved" in p:
        parts.append(names.label("resolved", p["resolved"]))
    if p.get("reached") is False:
        parts.append("未联系上")
    if p.get("incident_no"):
        parts.append(f"110 警情号：{p['incident_no']}")
    if p.get("automatic"):
        parts.append("自动")
    for key, word in _FREE_TEXT:
        if isinstance(p.get(key), str) and p[key].strip():
            parts.append(f"{word}：{_shown(p[key], citizen)}")
    if e.reason:
        parts.append(f"说明：{_shown(e.reason, citizen)}")
    return "；".join(parts)


def _event_item(e: Event, names: _Names) -> dict[str, Any]:
    name, username = names.person(e.actor_id)
    number, citizen = names.tickets.get(e.ticket_id, ("", None))
    return {"id": e.id, "at": e.at.isoformat(), "user": name, "username": username,
            "role": names.label("role", e.actor_role), "ticket": number,
            "action": e.action, "action_name": names.label("action", e.action),
            "from_status": names.label("status", e.from_status) if e.from_status else None,
            "to_status": names.label("status", e.to_status),
            "summary": _summary(e, names, citizen)}


def _read_item(r: PersonalDataRead, names: _Names) -> dict[str, Any]:
    name, username = names.person(r.user_id)
    fields = [f for f in r.fields.split(",") if f]
    number = names.tickets[r.ticket_id][0] if r.ticket_id in names.tickets else None
    return {"id": r.id, "at": r.at.isoformat(), "user": name, "username": username,
            "ticket": number,
            "contact": f"联系记录 #{r.contact_id}" if r.contact_id is not None else None,
            "fields": fields, "field_names": [READ_FIELDS.get(f, f) for f in fields]}


def _value(field: str, value: Any, names: _Names) -> str:
    """A recorded value as a person reads it (names for codes, 是/否, secrets hidden)."""
    if "password" in field and field not in ("must_change_password", "password_reset_at"):
        return HIDDEN_VALUE
    if value is None or value == "" or value == []:
        return "（空）"
    if isinstance(value, bool):
        return "是" if value else "否"
    if field in ("role", "roles"):
        values = value if isinstance(value, list) else [value]
        return "、".join(names.label("role", v) for v in values)
    if field in ("department", "department_code", "lead", "co_handlers"):
        values = value if isinstance(value, list) else [value]
        return "、".join(names.department(v) for v in values)
    if field in ("category", "category_code"):
        return names.category(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _key_name(c: AdminChange, names: _Names) -> str:
    if c.subject == "user":
        shown = names.by_username(c.key)
        return f"{shown}（{c.key}）" if shown != c.key else c.key
    if c.subject == "department":
        return names.department(c.key)
    if c.subject == "category":
        return names.category(c.key)
    return c.key


def _change_item(c: AdminChange, names: _Names) -> dict[str, Any]:
    name, username = names.person(c.actor_id)
    before = c.before if isinstance(c.before, dict) else (
        None if c.before is None else {"value": c.before})
    after = c.after if isinstance(c.after, dict) else (
        None if c.after is None else {"value": c.after})
    changes = [{"field": k, "field_name": FIELD_NAMES.get(k, k),
                "before": _value(k, old, names) if before is not None else None,
                "after": _value(k, new, names) if after is not None else None}
               for k, (old, new) in changed_fields(before, after).items()]
    return {"id": c.id, "at": c.at.isoformat(), "user": name, "username": username,
            "subject": c.subject, "subject_name": SUBJECT_NAMES.get(c.subject, c.subject),
            "key": c.key, "key_name": _key_name(c, names),
            "action": c.action, "action_name": CHANGE_ACTIONS.get(c.action, c.action),
            "changes": changes}


def _items(session: Session, f: AuditFilter, rows: Sequence[Any], directory: Directory,
           label: Callable[[str, Any], str]) -> list[dict[str, Any]]:
    names = _Names(session, directory, label)
    if f.kind == "events":
        names.load_people((e.actor_id for e in rows),
                          (str(e.payload["grid_worker"]) for e in rows
                           if isinstance(e.payload, dict) and e.payload.get("grid_worker")))
        names.load_tickets(e.ticket_id for e in rows)
        return [_event_item(e, names) for e in rows]
    if f.kind == "reads":
        names.load_people(r.user_id for r in rows)
        names.load_tickets(r.ticket_id for r in rows)
        return [_read_item(r, names) for r in rows]
    names.load_people((c.actor_id for c in rows),
                      (c.key for c in rows if c.subject == "user"))
    return [_change_item(c, names) for c in rows]


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
