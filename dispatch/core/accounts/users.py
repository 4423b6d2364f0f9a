"""User administration: the checks of a user's fields, creating and changing users
(never leaving no active admin), resetting a password, recording an unlock, and finding
users a page at a time."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from argon2 import PasswordHasher
from pydantic import Field, StringConstraints
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from dispatch.core.accounts.signin import MIN_PASSWORD, end_sessions, set_active
from dispatch.core.audit import record_change
from dispatch.core.commands import Code, Strict
from dispatch.core.errors import Conflict, InvalidInput
from dispatch.core.models import User
from dispatch.core.ports import Directory
from dispatch.core.validation import check_changes
from dispatch.core.vocab import Role
from dispatch.intake.phones import normalize_phone
from dispatch.tickets.lifecycle import Actor

USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{2,39}$")
EXTENSION = re.compile(r"^[0-9]{1,12}$")
MAX_DISPLAY_NAME = 60
# No 0/O, 1/l/I: a temporary password is read out or copied by hand.
TEMPORARY_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
# Roles that belong to a department (a handler always; a grid worker to a street office).
DEPARTMENT_ROLES = frozenset({Role.HANDLER})
NEEDS_DEPARTMENT = "department: 承办人须属于一个部门，请选择部门"


def actor_for(user: User) -> Actor:
    """The domain's view of a signed-in user."""
    return Actor(user.id, Role(user.role), user.department_code, user.username)


def check_department(directory: Directory, code: str) -> None:
    """Refuse a department that does not exist or is no longer active."""
    dept = directory.department(code)
    if dept is None:
        raise InvalidInput(f"department: 没有编码为“{code}”的部门", field="department")
    if not dept.active:
        raise InvalidInput(f"department: 部门“{dept.name}”已停用", field="department")


def check_display_name(value: str | None, username: str) -> str:
    """A user's name as shown (the username when none is given), or InvalidInput."""
    name = (value or "").strip() or username
    if len(name) > MAX_DISPLAY_NAME:
        raise InvalidInput(f"display_name: 姓名最多 {MAX_DISPLAY_NAME} 个字",
                           field="display_name")
    return name


def check_extension(value: str | None) -> str | None:
    """A desk phone's extension (None when blank), or InvalidInput."""
    text = (value or "").strip()
    if not text:
        return None
    if not EXTENSION.match(text):
        raise InvalidInput(f"extension: 分机号“{text}”须为 1–12 位数字", field="extension")
    return text


def check_phone(value: str | None) -> str | None:
    """A phone number normalised (None when blank), or InvalidInput."""
    text = (value or "").strip()
    return normalize_phone(text, "phone") if text else None


def check_role(role: str) -> str:
    """A role a user may have (not the system's), or InvalidInput."""
    if role not in {r.value for r in Role} or role == Role.SYSTEM:
        raise InvalidInput(f"role: 没有“{role}”这个角色", field="role")
    return role


def check_password(password: str | None, field: str = "password") -> str:
    """A password long enough, or InvalidInput naming `field`."""
    if len(password or "") < MIN_PASSWORD:
        raise InvalidInput(f"{field}: 密码至少 {MIN_PASSWORD} 个字符", field=field)
    return password or ""


def check_username(session: Session, username: str) -> str:
    """A well-formed username nobody has yet, or InvalidInput."""
    if not USERNAME.match(username or ""):
        raise InvalidInput("username: 须为 3–40 个小写字母、数字、“_”“.”“-”，"
                           "以字母开头", field="username")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise InvalidInput(f"username: 用户名“{username}”已被占用", field="username")
    return username


def user_record(user: User) -> dict[str, Any]:
    """What the log of admin changes keeps of a user (never the password hash)."""
    return {"username": user.username, "display_name": user.display_name, "role": user.role,
            "department": user.department_code, "phone": user.phone,
            "extension": user.extension, "active": user.active,
            "must_change_password": user.must_change_password}


def create_user(session: Session, hasher: PasswordHasher, directory: Directory, *,
                username: str, password: str, role: str, display_name: str | None = None,
                department: str | None = None, phone: str | None = None,
                extension: str | None = None, must_change_password: bool = False,
                actor_id: int | None = None, demo: bool = False) -> User:
    """Add a user after checking every field; nothing is written when one is wrong. Recorded
    in the log of admin changes (the demo county's own users are not an admin's change)."""
    check_username(session, username)
    check_role(role)
    check_password(password)
    if role in DEPARTMENT_ROLES and not department:
        raise InvalidInput(NEEDS_DEPARTMENT, field="department")
    if department is not None:
        check_department(directory, department)
    user = User(username=username, display_name=check_display_name(display_name, username),
                role=role, department_code=department, phone=check_phone(phone),
                extension=check_extension(extension), password_hash=hasher.hash(password),
                active=True, demo=demo, must_change_password=must_change_password)
    session.add(user)
    session.flush()
    if not demo:
        record_change(session, actor_id, "user", username, "create", None, user_record(user))
    return user


# What an admin may change of a user (PATCH /api/v1/admin/users/<username>).
EDITABLE = ("display_name", "role", "department", "phone", "extension", "active")


def update_user(session: Session, directory: Directory, user: User, changes: Mapping[str, Any],
                actor: Actor, now: datetime) -> User:
    """Change a user's name, role, department, phone, extension or active flag, checked like a
    creation; an admin may not disable or demote themselves, nor the last active admin be
    disabled or demoted; disabling ends the user's sessions. Nothing is written on a refusal."""
    check_changes(changes, EDITABLE, ("display_name", "role", "active"))
    before = user_record(user)
    role = check_role(changes["role"]) if "role" in changes else user.role
    department = changes["department"] if "department" in changes else user.department_code
    active = bool(changes["active"]) if "active" in changes else user.active
    if department is not None and department != user.department_code:
        check_department(directory, department)
    if role in DEPARTMENT_ROLES and not department:
        raise InvalidInput(NEEDS_DEPARTMENT, field="department")
    display_name = (check_display_name(changes["display_name"], user.username)
                    if "display_name" in changes else user.display_name)
    phone = check_phone(changes["phone"]) if "phone" in changes else user.phone
    extension = check_extension(changes["extension"]) if "extension" in changes else user.extension
    stays_admin = active and role == Role.ADMIN
    if user.role == Role.ADMIN and user.active and not stays_admin:
        field = "active" if not active else "role"
        if actor.id == user.id:
            raise InvalidInput(f"{field}: 不能停用自己的账号或取消自己的管理员角色",
                               field=field)
        # Locked, so that two admins demoting each other at once cannot leave none.
        others = session.scalars(select(User.id).where(
            User.role == Role.ADMIN, User.active.is_(True), User.id != user.id)
            .with_for_update()).all()
        if not others:
            raise Conflict(f"{field}: “{user.display_name}”是最后一个启用的管理员，"
                           "不能停用或改为其他角色", field=field)
    user.role, user.department_code, user.display_name = role, department, display_name
    user.phone, user.extension = phone, extension
    if active != user.active:
        set_active(session, user, active, now)
    session.flush()
    after = user_record(user)
    action = ("update" if before["active"] == after["active"]
              else "enable" if active else "disable")
    record_change(session, actor.id, "user", user.username, action, before, after, at=now)
    return user


def temporary_password() -> str:
    """A temporary password an admin hands over once (letters and digits that are not easily
    confused, 12 of them)."""
    return "".join(secrets.choice(TEMPORARY_ALPHABET) for _ in range(12))


def reset_password(session: Session, hasher: PasswordHasher, user: User, actor: Actor,
                   now: datetime, password: str | None = None) -> str:
    """Give a user a new temporary password (generated unless the admin gives one), to be
    changed at the next login; ends the user's sessions. Returns the password (shown once)."""
    new = check_password(password) if password is not None else temporary_password()
    before = {"must_change_password": user.must_change_password, "password_reset_at": None}
    user.password_hash = hasher.hash(new)
    user.must_change_password = True
    end_sessions(session, user, now)
    record_change(session, actor.id, "user", user.username, "reset_password", before,
                  {"must_change_password": True, "password_reset_at": now}, at=now)
    return new


def record_unlock(session: Session, actor_id: int | None, user: User, was_locked: bool,
                  now: datetime) -> None:
    """Record an admin's unlock of a user's login (when it was locked)."""
    if was_locked:
        record_change(session, actor_id, "user", user.username, "unlock", {"locked": True},
                      {"locked": False}, at=now)


class UserFilter(Strict):
    """The filters of `GET /api/v1/admin/users` (all optional)."""

    q: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                        max_length=60)] | None = Field(
        None, description="text to find in the username, the name or the phone")
    role: Role | None = None
    department: Code | None = None
    active: bool | None = None
    locked: bool | None = Field(None, description="locked by the login throttle")
    page: int = Field(1, ge=1, le=100_000)
    per_page: int = Field(20, ge=1, le=100)


@dataclass
class UserPage:
    """One page of users, with whether each is locked."""

    items: list[tuple[User, bool]]
    total: int
    page: int
    per_page: int


def find_users(session: Session, f: UserFilter, is_locked: Callable[[str], bool]) -> UserPage:
    """Users matching the filters, by username, a page at a time; `is_locked` tells the login
    throttle's state of an account (read for each candidate when filtering on it)."""
    where: list[Any] = []
    if f.q:
        where.append(or_(User.username.icontains(f.q, autoescape=True),
                         User.display_name.icontains(f.q, autoescape=True),
                         User.phone.icontains(f.q, autoescape=True)))
    if f.role is not None:
        where.append(User.role == f.role.value)
    if f.department is not None:
        where.append(User.department_code == f.department)
    if f.active is not None:
        where.append(User.active.is_(f.active))
    query = select(User).where(*where).order_by(User.username)
    start = (f.page - 1) * f.per_page
    if f.locked is None:
        total = session.scalar(select(func.count()).select_from(User).where(*where)) or 0
        users = session.scalars(query.limit(f.per_page).offset(start)).all()
        return UserPage([(u, is_locked(u.username)) for u in users], total, f.page, f.per_page)
    names = [n for n in session.scalars(select(User.username).where(*where)
                                        .order_by(User.username))
             if is_locked(n) == f.locked]
    chosen = names[start:start + f.per_page]
    rows = {u.username: u for u in session.scalars(select(User).where(
        User.username.in_(chosen)))} if chosen else {}
    return UserPage([(rows[n], f.locked) for n in chosen], len(names), f.page, f.per_page)
