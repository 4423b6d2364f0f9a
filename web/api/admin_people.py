"""Administration of people and organisation under /api/v1 (CONTRACT.md, Administration): the
users (list, add, change, disable, reset a password, unlock, import) and the departments (the
staff's list; the admin's list with the hierarchy, add, change, deactivate, import)."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from flask.typing import ResponseReturnValue
from pydantic import Field, StringConstraints
from sqlalchemy import select

from dispatch.core import accounts
from dispatch.core.commands import Code, Strict
from dispatch.core.errors import NotFound
from dispatch.core.imports import read_sheet, records
from dispatch.core.models import User
from dispatch.core.vocab import Role
from dispatch.tickets.lifecycle import Actor
from grid import departments as depts
from grid.directory import SqlDirectory
from grid.models import Department
from web.api.base import STAFF, ApiBlueprint, commit, import_answer, uploaded_sheet
from web.auth import login_throttle
from web.extensions import db
from web.i18n import ZH, t
from web.services import services

log = logging.getLogger("hotline.auth")
bp = ApiBlueprint("admin_people", __name__)
ADMIN = (Role.ADMIN,)
Phone = Annotated[str, StringConstraints(max_length=32)]
Extension = Annotated[str, StringConstraints(max_length=12)]
DisplayName = Annotated[str, StringConstraints(max_length=60)]


def _now():  # noqa: ANN202
    return services().clock.now()


def _directory() -> SqlDirectory:
    return SqlDirectory(db.session)


def _user(username: str) -> User:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户“{username}”不存在")
    return user


def _user_view(user: User, locked: bool, names: dict[str, str]) -> dict[str, Any]:
    return {"username": user.username, "display_name": user.display_name, "role": user.role,
            "role_name": t("role", user.role), "department": user.department_code,
            "department_name": names.get(user.department_code or ""), "phone": user.phone,
            "extension": user.extension, "active": user.active, "locked": locked,
            "must_change_password": user.must_change_password,
            "created_at": user.created_at.isoformat() if user.created_at else None}


# ---------------------------------------------------------------- departments


@bp.endpoint("/departments", "GET", "Departments", roles=STAFF)
def departments(actor: Actor) -> dict[str, Any]:
    rows = db.session.scalars(select(Department).order_by(Department.kind, Department.code))
    return {"items": [{"code": d.code, "name": d.name, "kind": d.kind,
                       "street": d.street_code, "parent": d.parent_code,
                       "active": d.active} for d in rows]}


class DepartmentCreate(Strict):
    code: Code
    name: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    kind: Annotated[str, Field(description="functional (职能部门) or territorial (属地)")]
    parent_code: Code | None = None
    street: Annotated[str, StringConstraints(max_length=40)] | None = None
    phones: Annotated[list[Phone], Field(max_length=20)] = Field(default_factory=list)


class DepartmentUpdate(Strict):
    """The fields to change (those left out stay as they are)."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=80)] | None = None
    kind: str | None = None
    parent_code: Code | None = None
    street: Annotated[str, StringConstraints(max_length=40)] | None = None
    phones: Annotated[list[Phone], Field(max_length=20)] | None = None
    active: bool | None = None


def _department_view(row: depts.DepartmentRow, names: dict[str, str]) -> dict[str, Any]:
    d = row.department
    return {"code": d.code, "name": d.name, "kind": d.kind,
            "kind_name": t("department_kind", d.kind), "parent_code": d.parent_code,
            "parent_name": names.get(d.parent_code or ""), "depth": row.depth,
            "street": d.street_code, "phones": list(d.phones or []), "active": d.active,
            "active_users": row.usage.users, "open_assignments": row.usage.open_assignments}


def _one_department(code: str) -> dict[str, Any]:
    names = depts.names(db.session)
    for row in depts.tree(db.session):
        if row.department.code == code:
            return _department_view(row, names)
    raise NotFound(f"部门“{code}”不存在")


@bp.endpoint("/admin/departments", "GET",
          "Every department in tree order (kind, parent, street, SMS phones, active, the counts "
          "of active users and open assignments)", roles=ADMIN)
def admin_departments(actor: Actor) -> dict[str, Any]:
    names = depts.names(db.session)
    return {"items": [_department_view(row, names) for row in depts.tree(db.session)]}


@bp.endpoint("/admin/departments", "POST", "Add a department", body=DepartmentCreate,
          roles=ADMIN, status=201, errors=(409,))
def add_department(actor: Actor, body: DepartmentCreate) -> dict[str, Any]:
    d = depts.create_department(
        db.session, actor.id, code=body.code, name=body.name, kind=body.kind,
        parent_code=body.parent_code, street=body.street, phones=body.phones,
        kind_names=ZH["department_kind"])
    commit()
    return _one_department(d.code)


@bp.endpoint("/admin/departments/<code>", "PUT",
          "Change a department (name, kind, parent, street, SMS phones, active); deactivating "
          "one with open assignments or active users is refused", body=DepartmentUpdate,
          roles=ADMIN, errors=(409,))
def update_department(actor: Actor, code: str, body: DepartmentUpdate) -> dict[str, Any]:
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    d = depts.update_department(db.session, actor.id, code, changes,
                                kind_names=ZH["department_kind"])
    commit()
    return _one_department(d.code)


@bp.endpoint("/admin/departments/import", "POST",
          "Import departments from an .xlsx or .csv sheet (multipart `file`; headings 编码, "
          "名称, 类型, 上级, 街道编码, 短信电话): a dry run unless dry_run=false, all or nothing, "
          "a report of each rejected row", roles=ADMIN, errors=(422,))
def import_departments(actor: Actor) -> ResponseReturnValue:
    data, filename, dry_run = uploaded_sheet()
    rows = records(read_sheet(data, filename), depts.HEADINGS)
    report = depts.import_departments(db.session, rows, kind_names=ZH["department_kind"],
                                      actor_id=actor.id, commit=not dry_run)
    if report.committed:
        commit()
    else:
        db.session.rollback()
    return import_answer(report, dry_run)


# ---------------------------------------------------------------- users


class UserCreate(Strict):
    username: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    role: Role
    display_name: DisplayName | None = None
    department: Code | None = None
    phone: Phone | None = None
    extension: Extension | None = None


class UserUpdate(Strict):
    """The fields to change (those left out stay as they are; null clears a department, a
    phone or an extension)."""

    display_name: DisplayName | None = None
    role: Role | None = None
    department: Code | None = None
    phone: Phone | None = None
    extension: Extension | None = None
    active: bool | None = None


class PasswordReset(Strict):
    password: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        None, description="the temporary password; generated when left out")


def _one_user(user: User) -> dict[str, Any]:
    return _user_view(user, login_throttle().locked(user.username), depts.names(db.session))


@bp.endpoint("/admin/users", "GET",
          "Users, a page at a time (search q in the username, name and phone; filters role, "
          "department, active, locked)", query=accounts.UserFilter, roles=ADMIN)
def list_users(actor: Actor, query: accounts.UserFilter) -> dict[str, Any]:
    found = accounts.find_users(db.session, query, login_throttle().locked)
    names = depts.names(db.session)
    return {"items": [_user_view(u, locked, names) for u, locked in found.items],
            "total": found.total, "page": found.page, "per_page": found.per_page}


@bp.endpoint("/admin/users", "POST", "Add a user", body=UserCreate, roles=ADMIN, status=201)
def add_user(actor: Actor, body: UserCreate) -> dict[str, Any]:
    user = accounts.create_user(
        db.session, services().hasher, _directory(), username=body.username,
        password=body.password, role=body.role, display_name=body.display_name,
        department=body.department, phone=body.phone, extension=body.extension,
        actor_id=actor.id)
    commit()
    return _one_user(user)


@bp.endpoint("/admin/users/<username>", "PATCH",
          "Change a user (name, role, department, phone, extension, active); disabling ends "
          "the user's sessions; an admin may not disable or demote themselves or the last "
          "active admin", body=UserUpdate, roles=ADMIN, errors=(409,))
def update_user(actor: Actor, username: str, body: UserUpdate) -> dict[str, Any]:
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    if "role" in changes and changes["role"] is not None:
        changes["role"] = changes["role"].value
    user = accounts.update_user(db.session, _directory(), _user(username), changes, actor,
                                _now())
    commit()
    return _one_user(user)


@bp.endpoint("/admin/users/<username>/reset_password", "POST",
          "Give a user a temporary password (shown once in this answer), to be changed at the "
          "next login; ends the user's sessions", body=PasswordReset, roles=ADMIN)
def reset_password(actor: Actor, username: str, body: PasswordReset) -> dict[str, Any]:
    user = _user(username)
    password = accounts.reset_password(db.session, services().hasher, user, actor, _now(),
                                       body.password)
    commit()
    return {**_one_user(user), "temporary_password": password}


@bp.endpoint("/admin/users/<username>/unlock", "POST",
          "Clear a user's login lock (failed logins of the account and of its addresses)",
          roles=ADMIN)
def unlock_user(actor: Actor, username: str) -> dict[str, Any]:
    user = _user(username)
    was_locked = login_throttle().unlock(user.username)
    log.info("login unlocked: account=%r by=%s was_locked=%s", user.username, actor.username,
             was_locked)
    accounts.record_unlock(db.session, actor.id, user, was_locked, _now())
    commit()
    return {"username": user.username, "unlocked": True, "was_locked": was_locked}


@bp.endpoint("/admin/users/import", "POST",
          "Import users from an .xlsx or .csv sheet (multipart `file`; headings 用户名, 姓名, "
          "角色, 部门, 手机, 分机号, 初始密码): a dry run unless dry_run=false, all or nothing, "
          "a report of each rejected row; each imported user changes the password at the "
          "first login", roles=ADMIN, errors=(422,))
def import_users(actor: Actor) -> ResponseReturnValue:
    data, filename, dry_run = uploaded_sheet()
    rows = records(read_sheet(data, filename), accounts.USER_HEADINGS)
    report = accounts.import_users(
        db.session, services().hasher, _directory(), rows, role_names=ZH["role"],
        department_names=depts.names(db.session), actor_id=actor.id, commit=not dry_run)
    if report.committed:
        commit()
    else:
        db.session.rollback()
    return import_answer(report, dry_run)
