"""Admin page for the audit: 审计 (/admin/audit): the ticket events (操作事件), the admin
changes (管理变更, before → after per field) and the reads of unmasked personal data
(个人信息查阅), each filtered by user, ticket, time and action, paged by the server and
exported to Excel, all through /api/v1/admin/audit."""

from __future__ import annotations

from typing import Any

from dispatch.core.models import User
from dispatch.stats.audit_log import event_actions
from dispatch.stats.audit_view import CHANGE_ACTIONS, READ_FIELDS, SUBJECT_NAMES
from web.i18n import t
from web.pages.admin import ADMIN_ROLES, admin_menu
from web.pages.staff import page


@page("/admin/audit", ADMIN_ROLES)
def admin_audit(user: User) -> dict[str, Any]:
    return {"template": "admin_audit.html", "menu": admin_menu("pages.admin_audit"),
            "event_actions": [(a, t("action", a)) for a in event_actions()],
            "read_fields": list(READ_FIELDS.items()),
            "subjects": list(SUBJECT_NAMES.items()),
            "change_actions": list(CHANGE_ACTIONS.items())}
