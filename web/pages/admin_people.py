"""Admin pages for people and organisation: 用户 (/admin/users) and 部门 (/admin/departments).
Each is a shell and its script (js/admin-users.js, js/admin-departments.js), which reads and
changes through /api/v1/admin/users and /api/v1/admin/departments."""

from __future__ import annotations

from typing import Any

from dispatch.core.models import User
from dispatch.core.vocab import Role
from grid.departments import KINDS
from web.i18n import t
from web.pages.admin import ADMIN_ROLES, admin_menu
from web.pages.staff import page

# The roles an admin gives (the system's own role is nobody's).
ROLES = tuple(r.value for r in Role if r is not Role.SYSTEM)


@page("/admin/users", ADMIN_ROLES)
def admin_users(user: User) -> dict[str, Any]:
    return {"template": "admin_users.html", "menu": admin_menu("pages.admin_users"),
            "roles": [{"code": r, "name": t("role", r)} for r in ROLES]}


@page("/admin/departments", ADMIN_ROLES)
def admin_departments(user: User) -> dict[str, Any]:
    return {"template": "admin_departments.html", "menu": admin_menu("pages.admin_departments"),
            "kinds": [{"code": k, "name": t("department_kind", k)} for k in KINDS]}
