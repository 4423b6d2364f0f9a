"""Admin pages for what the office maintains: 知识库 (/admin/kb), 网格 (/admin/grid), 值班表
(/admin/roster), 分类规则 (/admin/classifier-rules), 重复规则 (/admin/repeat-rules) and 系统设置
(/admin/settings)."""

from __future__ import annotations

from typing import Any

from dispatch.core.models import User
from web.pages.admin import ADMIN_ROLES, admin_menu
from web.pages.staff import page

# ---------------------------------------------------------------- 网格 and 值班表


@page("/admin/grid", ADMIN_ROLES)
def admin_grid(user: User) -> dict[str, Any]:
    return {"template": "admin_grid.html", "menu": admin_menu("pages.admin_grid")}


@page("/admin/roster", ADMIN_ROLES)
def admin_roster(user: User) -> dict[str, Any]:
    return {"template": "admin_roster.html", "menu": admin_menu("pages.admin_roster")}
