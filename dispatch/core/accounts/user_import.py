"""Importing users from a spreadsheet (the admin page's users sheet, 批量导入): each row
checked like a creation, all added only when every row is good."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from dispatch.core.accounts.users import (
    DEPARTMENT_ROLES,
    NEEDS_DEPARTMENT,
    check_department,
    check_display_name,
    check_extension,
    check_password,
    check_phone,
    check_role,
    check_username,
    create_user,
)
from dispatch.core.errors import InvalidInput
from dispatch.core.imports import ImportReport, run_import
from dispatch.core.ports import Directory

# The columns of a users sheet: Chinese heading → field.
USER_HEADINGS = {"用户名": "username", "姓名": "display_name", "角色": "role", "部门": "department",
                 "手机": "phone", "分机号": "extension", "初始密码": "password"}


@dataclass(frozen=True)
class NewUser:
    """A checked row of a users sheet, ready to add."""

    username: str
    password: str
    role: str
    display_name: str
    department: str | None
    phone: str | None
    extension: str | None


def import_users(session: Session, hasher: PasswordHasher, directory: Directory,
                 rows: Sequence[tuple[int, dict[str, str]]], *, role_names: Mapping[str, str],
                 department_names: Mapping[str, str], actor_id: int | None,
                 commit: bool) -> ImportReport[NewUser]:
    """Check each row of a users sheet like a creation (roles by code or Chinese name,
    departments by code or name; a username taken in the database or earlier in the file is
    refused); add them all, each to change the initial password at the first login, only when
    committing and every row is good. `role_names` and `department_names` map codes to the
    names a sheet may use instead."""
    by_role_name = {name: code for code, name in role_names.items()}
    by_department_name: dict[str, list[str]] = {}
    for code, name in department_names.items():
        by_department_name.setdefault(name, []).append(code)
    known_codes = set(department_names)
    seen: set[str] = set()

    def check(values: dict[str, str]) -> NewUser:
        username = values.get("username", "").strip()
        if username in seen:
            raise InvalidInput(f"username: 用户名“{username}”在文件中重复", field="username")
        check_username(session, username)
        raw_role = values.get("role", "").strip()
        if not raw_role:
            raise InvalidInput("role: 角色必填", field="role")
        role = check_role(by_role_name.get(raw_role, raw_role))
        raw_dept = values.get("department", "").strip()
        department: str | None = None
        if raw_dept:
            if raw_dept in known_codes:
                department = raw_dept
            else:
                codes = by_department_name.get(raw_dept, [])
                if len(codes) > 1:
                    raise InvalidInput(f"department: 名为“{raw_dept}”的部门不止一个，请填编码",
                                       field="department")
                if not codes:
                    raise InvalidInput(f"department: 没有名为或编码为“{raw_dept}”的部门",
                                       field="department")
                department = codes[0]
            check_department(directory, department)
        elif role in DEPARTMENT_ROLES:
            raise InvalidInput(NEEDS_DEPARTMENT, field="department")
        password = check_password(values.get("password"))
        row = NewUser(username, password, role,
                      check_display_name(values.get("display_name"), username), department,
                      check_phone(values.get("phone")), check_extension(values.get("extension")))
        seen.add(username)
        return row

    def apply(row: NewUser) -> None:
        create_user(session, hasher, directory, username=row.username, password=row.password,
                    role=row.role, display_name=row.display_name, department=row.department,
                    phone=row.phone, extension=row.extension, must_change_password=True,
                    actor_id=actor_id)

    return run_import(rows, check, apply, commit=commit)
