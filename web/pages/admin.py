"""Administration pages (admin role, zh-CN): `/admin` and one page per thing an office changes.
Like every page they carry no business rules: a shell and its script, which reads and acts
through /api/v1 (`/api/v1/admin/...`), where each change is checked and recorded.

`SECTIONS` is the admin's menu, in the order an office sets a county up; each page module
(`admin_people`, `admin_setup`, `admin_content`, `admin_audit`, and this one) registers its pages
with `@page`, and a section whose page is not registered is left out of the menu.

- /admin/classifier: the learned classifier's versions with their held-out figures (rules,
  model, both), training a new one, activating one (a worse one only when forced), and the
  state of the classifier in use (the rules alone when the model cannot be loaded).
- /admin/triage: emergencies on unattended channels (auto_transfer_110, when an alarm is
  escalated) and the per-category thresholds of automatic dispatch (智能派单)."""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for

from dispatch.core.models import User
from dispatch.core.vocab import Role
from web.pages.staff import page

ADMIN_ROLES = (Role.ADMIN,)

# (endpoint, title, what the page is for): the admin's menu.
SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("pages.admin_users", "用户",
     "账号、角色、所属部门、分机号；停用、重置密码、解除锁定；Excel 批量导入"),
    ("pages.admin_departments", "部门",
     "职能部门与属地（街道→社区/村）的层级、短信通知电话；Excel 导入"),
    ("pages.admin_categories", "事项分类",
     "分类树：新增、改名、移动、停用，并显示受影响的派单目录和分类规则"),
    ("pages.admin_catalogue", "派单目录",
     "分类 × 区域 → 主办、协办、是否需到现场；“试一试”看派单结果与理由"),
    ("pages.admin_time_limits", "时限",
     "按诉求类型和紧急程度的签收、办结时限"),
    ("pages.admin_calendar", "工作日历",
     "每年的节假日与调休（正式/暂定），保存时重算受影响工单的期限"),
    ("pages.admin_kb", "知识库",
     "各部门的知识条目、版本对比、有效期、审核发布与到期提醒"),
    ("pages.admin_grid", "网格",
     "网格版本、地图预览与导入报告，启用前对比变化"),
    ("pages.admin_roster", "值班表",
     "网格员在各网格的值班，按周查看，Excel 导入"),
    ("pages.admin_classifier_rules", "分类规则",
     "分类器的短语规则（涉警判断以规则为准）"),
    ("pages.classifier_admin", "分类模型",
     "学习模型的版本与留出集指标，训练与启用"),
    ("pages.triage_admin", "分诊设置",
     "无人值守渠道的紧急诉求、警报升级与智能派单门槛"),
    ("pages.admin_repeat_rules", "重复规则",
     "重复件的判定范围与时间窗口"),
    ("pages.admin_assessment_scheme", "考核方案",
     "月度考核的各项权重、扣分上限与参与排名的最少派单数"),
    ("pages.admin_settings", "系统设置",
     "管理员可修改的其他设置"),
    ("pages.admin_audit", "审计",
     "操作事件、管理变更与个人信息查阅记录，筛选与导出"),
)


def admin_menu(active: str | None = None) -> list[dict[str, Any]]:
    """The menu of the admin pages that exist in this build, the open one marked."""
    known = current_app.view_functions
    return [{"href": url_for(endpoint), "title": title, "summary": summary,
             "active": endpoint == active}
            for endpoint, title, summary in SECTIONS if endpoint in known]


@page("/admin", ADMIN_ROLES)
def admin_home(user: User) -> dict[str, Any]:
    return {"template": "admin_home.html", "menu": admin_menu()}


@page("/admin/classifier", ADMIN_ROLES)
def classifier_admin(user: User) -> dict[str, Any]:
    return {"template": "classifier_admin.html", "menu": admin_menu("pages.classifier_admin")}


@page("/admin/triage", ADMIN_ROLES)
def triage_admin(user: User) -> dict[str, Any]:
    return {"template": "triage_admin.html", "menu": admin_menu("pages.triage_admin")}
