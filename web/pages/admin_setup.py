"""Admin pages for how demands are sorted and timed: 事项分类 (/admin/categories), 派单目录
(/admin/catalogue), 时限 (/admin/time-limits) and 工作日历 (/admin/calendar). Shells only: their
scripts read and change through /api/v1/admin/... (web/api/admin_setup.py)."""

from __future__ import annotations

from typing import Any

from dispatch.core.models import User
from web.pages.admin import ADMIN_ROLES, admin_menu
from web.pages.staff import page
from web.services import services


@page("/admin/categories", ADMIN_ROLES)
def admin_categories(user: User) -> dict[str, Any]:
    return {"template": "admin_categories.html", "menu": admin_menu("pages.admin_categories")}


@page("/admin/catalogue", ADMIN_ROLES)
def admin_catalogue(user: User) -> dict[str, Any]:
    return {"template": "admin_catalogue.html", "menu": admin_menu("pages.admin_catalogue")}


@page("/admin/time-limits", ADMIN_ROLES)
def admin_time_limits(user: User) -> dict[str, Any]:
    return {"template": "admin_time_limits.html", "menu": admin_menu("pages.admin_time_limits")}


@page("/admin/calendar", ADMIN_ROLES)
def admin_calendar(user: User) -> dict[str, Any]:
    year = services().clock.now().year
    return {"template": "admin_calendar.html", "menu": admin_menu("pages.admin_calendar"),
            "boot": {"year": year + 1 if services().clock.now().month >= 11 else year}}
