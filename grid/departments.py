"""Administration of the departments (CONTRACT.md, Administration): functional bureaus (职能部门)
and territorial ones (属地: a street office or town, and the communities and villages under it),
their hierarchy, the phones their SMS notices go to, and the active flag.

Every change is checked here and recorded in the log of admin changes in the caller's
transaction, whether it comes from the API, a page or a spreadsheet import."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.core.audit import record_change
from dispatch.core.errors import Conflict, InvalidInput, NotFound
from dispatch.core.imports import ImportReport, run_import
from dispatch.core.models import Assignment, User
from dispatch.core.validation import check_changes
from dispatch.core.vocab import ACTIVE_ASSIGNMENT
from dispatch.intake.phones import normalize_phone
from grid.models import Department

KINDS = ("functional", "territorial")
CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
MOBILE = re.compile(r"^1[0-9]{10}$")
MAX_NAME = 80
MAX_PHONES = 10
PHONE_SEPARATORS = re.compile(r"[\r\n,，;；、/]+")  # not spaces: "138 0013 8000" is one
# What an admin may change of a department (PUT /api/v1/admin/departments/<code>).
EDITABLE = ("name", "kind", "parent_code", "street", "phones", "active")


def department_record(d: Department) -> dict[str, Any]:
    """What the log of admin changes keeps of a department."""
    return {"code": d.code, "name": d.name, "kind": d.kind, "parent_code": d.parent_code,
            "street": d.street_code, "phones": list(d.phones or []), "active": d.active}


@dataclass(frozen=True)
class Usage:
    """What still depends on a department: its active users and its open assignments."""

    users: int = 0
    open_assignments: int = 0


def usage(session: Session) -> dict[str, Usage]:
    """Department code → its active users and open assignments (those of the current
    handling round: not returned, cancelled or closed)."""
    users = dict(session.execute(
        select(User.department_code, func.count()).where(
            User.active.is_(True), User.department_code.is_not(None))
        .group_by(User.department_code)).tuples().all())
    assignments = dict(session.execute(
        select(Assignment.department_code, func.count()).where(
            Assignment.closed_at.is_(None),
            Assignment.status.in_(tuple(s.value for s in ACTIVE_ASSIGNMENT)))
        .group_by(Assignment.department_code)).tuples().all())
    return {code: Usage(users.get(code, 0), assignments.get(code, 0))
            for code in set(users) | set(assignments) if code is not None}


@dataclass(frozen=True)
class DepartmentRow:
    """A department as the admin's list shows it: in tree order, with its depth."""

    department: Department
    depth: int
    usage: Usage


def tree(session: Session) -> list[DepartmentRow]:
    """Every department (active or not), each followed by those under it (depth first);
    functional ones first, each level by code."""
    rows = session.scalars(select(Department)).all()
    children: dict[str | None, list[Department]] = {}
    codes = {d.code for d in rows}
    for d in rows:
        parent = d.parent_code if d.parent_code in codes else None
        children.setdefault(parent, []).append(d)
    for group in children.values():
        group.sort(key=lambda d: (KINDS.index(d.kind) if d.kind in KINDS else 9, d.code))
    used = usage(session)
    out: list[DepartmentRow] = []
    placed: set[str] = set()

    def walk(parent: str | None, depth: int) -> None:
        for d in children.get(parent, []):
            if d.code in placed:  # a cycle written outside these checks: list it once
                continue
            placed.add(d.code)
            out.append(DepartmentRow(d, depth, used.get(d.code, Usage())))
            walk(d.code, depth + 1)

    walk(None, 0)
    out += [DepartmentRow(d, 0, used.get(d.code, Usage())) for d in rows
            if d.code not in placed]
    return out


def names(session: Session) -> dict[str, str]:
    """Department code → name (a sheet may name a department instead of giving its code)."""
    return dict(session.execute(select(Department.code, Department.name)).tuples().all())


# ---------------------------------------------------------------- checks


@dataclass(frozen=True)
class Known:
    """What a check needs to know of another department: from the database, or from an
    earlier row of the same sheet."""

    code: str
    name: str
    kind: str
    parent_code: str | None
    active: bool


def _known(session: Session) -> dict[str, Known]:
    return {d.code: Known(d.code, d.name, d.kind, d.parent_code, d.active)
            for d in session.scalars(select(Department))}


def _name(value: str | None) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInput("name: 部门名称必填", field="name")
    if len(text) > MAX_NAME:
        raise InvalidInput(f"name: 部门名称最多 {MAX_NAME} 个字", field="name")
    return text


def _kind(value: str | None, kind_names: Mapping[str, str]) -> str:
    text = (value or "").strip()
    by_name = {name: code for code, name in kind_names.items()}
    kind = by_name.get(text, text)
    if kind not in KINDS:
        offered = "、".join(kind_names.get(k, k) for k in KINDS)
        raise InvalidInput(f"kind: 部门类型须为{offered}（收到“{text}”）", field="kind")
    return kind


def phone_list(values: Iterable[str]) -> list[str]:
    """Mainland mobile numbers for SMS notices, normalised, each once, in the order given."""
    out: list[str] = []
    for raw in values:
        if not raw.strip():
            continue
        number = normalize_phone(raw, "phones")
        if not MOBILE.match(number):
            raise InvalidInput(f"phones: “{raw}”不是大陆手机号，短信通知只能发到手机",
                               field="phones")
        if number not in out:
            out.append(number)
    if len(out) > MAX_PHONES:
        raise InvalidInput(f"phones: 短信通知电话最多 {MAX_PHONES} 个", field="phones")
    return out


def _street(value: str | None) -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    if len(text) > 40 or not re.match(r"^[A-Za-z0-9_.-]+$", text):
        raise InvalidInput(f"street: 街道编码“{text[:40]}”须为不超过 40 个字母、数字或“_”",
                           field="street")
    return text


def _parent(code: str, kind: str, parent_code: str | None, known: Mapping[str, Known],
            kind_names: Mapping[str, str]) -> str | None:
    """The parent after its checks: it exists, is active, is of the same kind, and the
    department is not (through it) its own ancestor."""
    if not parent_code:
        return None
    parent = known.get(parent_code)
    if parent is None:
        raise InvalidInput(f"parent_code: 上级部门“{parent_code}”不存在", field="parent_code")
    if not parent.active:
        raise InvalidInput(f"parent_code: 上级部门“{parent.name}”已停用", field="parent_code")
    if parent.kind != kind:
        raise InvalidInput(f"parent_code: 上级部门“{parent.name}”是"
                           f"{kind_names.get(parent.kind, parent.kind)}，"
                           f"{kind_names.get(kind, kind)}的上级须为同类部门",
                           field="parent_code")
    seen: set[str] = set()
    step: Known | None = parent
    while step is not None and step.code not in seen:
        if step.code == code:
            raise InvalidInput("parent_code: 不能把部门设为其自身或其下级的下级（会形成循环）",
                               field="parent_code")
        seen.add(step.code)
        step = known.get(step.parent_code) if step.parent_code else None
    return parent.code


def _unique_name(name: str, code: str, known: Mapping[str, Known]) -> None:
    for other in known.values():
        if other.name == name and other.code != code:
            raise InvalidInput(f"name: 已有名为“{name}”的部门（{other.code}）", field="name")


@dataclass(frozen=True)
class NewDepartment:
    """A checked department, ready to add."""

    code: str
    name: str
    kind: str
    parent_code: str | None
    street: str | None
    phones: list[str]


def _check_new(code: str, name: str | None, kind: str | None, parent_code: str | None,
               street: str | None, phones: Iterable[str], known: Mapping[str, Known],
               kind_names: Mapping[str, str]) -> NewDepartment:
    code = (code or "").strip()
    if not CODE.match(code):
        raise InvalidInput("code: 部门编码须为 2–40 个小写字母、数字或“_”，以字母开头",
                           field="code")
    if code in known:
        raise InvalidInput(f"code: 部门编码“{code}”已被占用", field="code")
    checked_name = _name(name)
    _unique_name(checked_name, code, known)
    checked_kind = _kind(kind, kind_names)
    return NewDepartment(code, checked_name, checked_kind,
                         _parent(code, checked_kind, parent_code, known, kind_names),
                         _street(street), phone_list(phones))


def _add(session: Session, new: NewDepartment, actor_id: int | None) -> Department:
    d = Department(code=new.code, name=new.name, kind=new.kind, parent_code=new.parent_code,
                   street_code=new.street, phones=list(new.phones), active=True)
    session.add(d)
    session.flush()
    record_change(session, actor_id, "department", d.code, "create", None, department_record(d))
    return d


# ---------------------------------------------------------------- changes


def create_department(session: Session, actor_id: int | None, *, code: str, name: str,
                      kind: str, parent_code: str | None = None, street: str | None = None,
                      phones: Sequence[str] = (), kind_names: Mapping[str, str]) -> Department:
    """Add a department after checking every field (code and name unique, the parent existing,
    active, of the same kind); recorded. Nothing is written when a field is wrong."""
    new = _check_new(code, name, kind, parent_code, street, phones, _known(session), kind_names)
    return _add(session, new, actor_id)


def update_department(session: Session, actor_id: int | None, code: str,
                      changes: Mapping[str, Any], *,
                      kind_names: Mapping[str, str]) -> Department:
    """Change a department's name, kind, parent, street, SMS phones or active flag, checked
    like a creation; deactivating one that still has open assignments, active users or active
    departments under it is refused with the counts. Recorded; nothing written on a refusal."""
    d = session.get(Department, code)
    if d is None:
        raise NotFound(f"部门“{code}”不存在")
    check_changes(changes, EDITABLE, ("name", "kind", "active"))
    before = department_record(d)
    known = _known(session)
    name = _name(changes["name"]) if "name" in changes else d.name
    _unique_name(name, d.code, known)
    kind = _kind(changes["kind"], kind_names) if "kind" in changes else d.kind
    parent_code = changes["parent_code"] if "parent_code" in changes else d.parent_code
    if parent_code != d.parent_code or kind != d.kind:
        parent_code = _parent(d.code, kind, parent_code, known, kind_names)
    street = _street(changes["street"]) if "street" in changes else d.street_code
    phones = phone_list(changes["phones"] or []) if "phones" in changes else d.phones
    active = bool(changes["active"]) if "active" in changes else d.active
    children = [k for k in known.values() if k.parent_code == d.code]
    if kind != d.kind and children:
        raise InvalidInput(f"kind: “{d.name}”下有{kind_names.get(d.kind, d.kind)}，"
                           f"不能改为{kind_names.get(kind, kind)}", field="kind")
    if d.active and not active:
        used = usage(session).get(d.code, Usage())
        live_children = [k.name for k in children if k.active]
        if used.open_assignments or used.users or live_children:
            reasons = []
            if used.open_assignments:
                reasons.append(f"{used.open_assignments} 个在办派单")
            if used.users:
                reasons.append(f"{used.users} 个启用的用户")
            if live_children:
                reasons.append(f"{len(live_children)} 个启用的下级部门")
            raise Conflict(f"active: 部门“{d.name}”还有 {'、'.join(reasons)}，不能停用；"
                           "请先改派、停用或调走", field="active")
    if active and not d.active and parent_code:
        parent = known.get(parent_code)
        if parent is not None and not parent.active:
            raise InvalidInput(f"active: 上级部门“{parent.name}”已停用，请先启用上级",
                               field="active")
    d.name, d.kind, d.parent_code, d.street_code = name, kind, parent_code, street
    d.phones, d.active = list(phones or []), active
    session.flush()
    after = department_record(d)
    action = ("update" if before["active"] == after["active"]
              else "activate" if active else "deactivate")
    record_change(session, actor_id, "department", d.code, action, before, after)
    return d


# ---------------------------------------------------------------- import

# The columns of a departments sheet: Chinese heading → field.
HEADINGS = {"编码": "code", "名称": "name", "类型": "kind", "上级": "parent",
            "街道编码": "street", "短信电话": "phones"}


def import_departments(session: Session, rows: Sequence[tuple[int, dict[str, str]]], *,
                       kind_names: Mapping[str, str], actor_id: int | None,
                       commit: bool) -> ImportReport[NewDepartment]:
    """Check each row of a departments sheet like a creation (the kind by code or Chinese
    name, the parent by code or name, in the database or on an earlier row; codes and names
    taken in the database or earlier in the file refused; phones separated by commas, 、 or
    line breaks); add them all, in order, only when committing and every row is good."""
    known = _known(session)
    from_file: set[str] = set()

    def check(values: dict[str, str]) -> NewDepartment:
        code = values.get("code", "").strip()
        if code in from_file:
            raise InvalidInput(f"code: 部门编码“{code}”在文件中重复", field="code")
        parent = values.get("parent", "").strip() or None
        if parent is not None and parent not in known:
            by_name = [k.code for k in known.values() if k.name == parent]
            parent = by_name[0] if len(by_name) == 1 else parent
        new = _check_new(values.get("code", ""), values.get("name"), values.get("kind"), parent,
                         values.get("street"),
                         PHONE_SEPARATORS.split(values.get("phones", "")), known, kind_names)
        known[new.code] = Known(new.code, new.name, new.kind, new.parent_code, True)
        from_file.add(new.code)
        return new

    def apply(new: NewDepartment) -> None:
        _add(session, new, actor_id)

    return run_import(rows, check, apply, commit=commit)
