"""How the audit viewer names what it shows (dispatch.stats.audit_log): people by name, tickets by
number, departments and categories by name, the fields of a recorded state in Chinese, an
event's free texts masked as a department user sees them — never a citizen's data."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from dispatch.core.audit import changed_fields
from dispatch.core.models import AdminChange, Category, Event, PersonalDataRead, Ticket, User
from dispatch.core.ports import Directory

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
    "auto_transfer_110": "紧急诉求自动转110", "alarm_escalation_seconds": "警报升级时间（秒）",
    "auto_dispatch": "智能派单门槛", "forced": "强制启用", "score": "留出集得分",
}
HIDDEN_VALUE = "（已隐藏）"
# Labels of the event payload keys an event's summary shows, in this order (see `_summary`).
_FREE_TEXT = (("answer", "答复"), ("result", "办理结果"), ("text", "内容"), ("note", "备注"),
              ("cause", "原因"), ("reason", "理由"))


def label_plain(group: str, code: Any) -> str:
    """The default `label`: a code as itself (the web passes the translation table)."""
    return "" if code is None else str(code)


class Names:
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


def _summary(e: Event, names: Names, citizen: str | None) -> str:
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


def event_item(e: Event, names: Names) -> dict[str, Any]:
    name, username = names.person(e.actor_id)
    number, citizen = names.tickets.get(e.ticket_id, ("", None))
    return {"id": e.id, "at": e.at.isoformat(), "user": name, "username": username,
            "role": names.label("role", e.actor_role), "ticket": number,
            "action": e.action, "action_name": names.label("action", e.action),
            "from_status": names.label("status", e.from_status) if e.from_status else None,
            "to_status": names.label("status", e.to_status),
            "summary": _summary(e, names, citizen)}


def read_item(r: PersonalDataRead, names: Names) -> dict[str, Any]:
    name, username = names.person(r.user_id)
    fields = [f for f in r.fields.split(",") if f]
    number = names.tickets[r.ticket_id][0] if r.ticket_id in names.tickets else None
    return {"id": r.id, "at": r.at.isoformat(), "user": name, "username": username,
            "ticket": number,
            "contact": f"联系记录 #{r.contact_id}" if r.contact_id is not None else None,
            "fields": fields, "field_names": [READ_FIELDS.get(f, f) for f in fields]}


def _value(field: str, value: Any, names: Names) -> str:
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


def _key_name(c: AdminChange, names: Names) -> str:
    if c.subject == "user":
        shown = names.by_username(c.key)
        return f"{shown}（{c.key}）" if shown != c.key else c.key
    if c.subject == "department":
        return names.department(c.key)
    if c.subject == "category":
        return names.category(c.key)
    return c.key


def change_item(c: AdminChange, names: Names) -> dict[str, Any]:
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
