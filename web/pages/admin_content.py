"""Admin pages for what the office maintains: 知识库 (/admin/kb), 网格 (/admin/grid), 值班表
(/admin/roster), 分类规则 (/admin/classifier-rules), 重复规则 (/admin/repeat-rules) and 系统设置
(/admin/settings)."""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for

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


# ---------------------------------------------------- 知识库, 分类规则, 重复规则, 系统设置


@page("/admin/kb", ADMIN_ROLES)
def admin_kb(user: User) -> dict[str, Any]:
    return {"template": "admin_kb.html", "menu": admin_menu("pages.admin_kb")}


@page("/admin/classifier-rules", ADMIN_ROLES)
def admin_classifier_rules(user: User) -> dict[str, Any]:
    return {"template": "admin_classifier_rules.html",
            "menu": admin_menu("pages.admin_classifier_rules")}


@page("/admin/repeat-rules", ADMIN_ROLES)
def admin_repeat_rules(user: User) -> dict[str, Any]:
    return {"template": "admin_repeat_rules.html",
            "menu": admin_menu("pages.admin_repeat_rules")}


# The settings an admin changes on pages of their own, listed on 系统设置 (name, what, endpoint).
OTHER_SETTINGS: tuple[tuple[str, str, str], ...] = (
    ("时限", "签收、办结时限，预警比例，延期次数与天数，超期督办，回访次数",
     "pages.admin_time_limits"),
    ("工作日历", "每年的节假日与调休（正式/暂定）", "pages.admin_calendar"),
    ("分诊设置", "无人值守渠道的涉警/危急诉求自动转 110、警报升级时间、智能派单门槛",
     "pages.triage_admin"),
    ("重复规则", "疑似重复件的距离、时间窗口和同一来电人天数", "pages.admin_repeat_rules"),
    ("分类规则", "分类器的短语与权重（涉警判断以规则为准）", "pages.admin_classifier_rules"),
    ("派单目录", "分类 × 区域 → 主办、协办、是否需到现场", "pages.admin_catalogue"),
)


@page("/admin/settings", ADMIN_ROLES)
def admin_settings(user: User) -> dict[str, Any]:
    known = current_app.view_functions
    others = [{"name": name, "what": what,
               "href": url_for(endpoint) if endpoint in known else None,
               "page": name if endpoint in known else "尚无页面"}
              for name, what, endpoint in OTHER_SETTINGS]
    return {"template": "admin_settings.html", "menu": admin_menu("pages.admin_settings"),
            "others": others}
