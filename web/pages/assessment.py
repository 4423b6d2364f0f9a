"""The monthly assessment's pages (zh-CN): `/assessment` 月度考核 — leaders and the office see
both rankings, the score breakdown and the tickets behind each deduction, the appeal queue
(the office decides) and the publish button; a department sees its own assessment and appeals
a ticket from it — and `/admin/assessment-scheme` 考核方案 for the admin. Shells only: their
scripts read and act through /api/v1 (web/api/assessment.py)."""

from __future__ import annotations

from typing import Any

from dispatch.core.models import User
from dispatch.core.vocab import Role
from dispatch.stats.assessment_appeals import ALL_SEEING
from web.pages.admin import ADMIN_ROLES, admin_menu
from web.pages.staff import assessment_boot, page

ASSESSMENT_ROLES = (*ALL_SEEING, Role.HANDLER)


@page("/assessment", ASSESSMENT_ROLES)
def assessment(user: User) -> dict[str, Any]:
    return {"template": "assessment.html", "boot": assessment_boot(user)}


@page("/admin/assessment-scheme", ADMIN_ROLES)
def admin_assessment_scheme(user: User) -> dict[str, Any]:
    return {"template": "admin_assessment_scheme.html",
            "menu": admin_menu("pages.admin_assessment_scheme")}
