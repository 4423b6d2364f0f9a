"""Administration pages (admin role, zh-CN). Like every page they carry no business rules: a
shell and its script, which reads and acts through /api/v1.

- /admin/classifier: the learned classifier's versions with their held-out figures (rules,
  model, both), training a new one, activating one (a worse one only when forced), and the
  state of the classifier in use (the rules alone when the model cannot be loaded).
- /admin/triage: emergencies on unattended channels (auto_transfer_110, when an alarm is
  escalated) and the per-category thresholds of automatic dispatch (智能派单)."""

from __future__ import annotations

from typing import Any

from dispatch.core.models import User
from dispatch.core.vocab import Role
from web.pages.staff import page

ADMIN_ROLES = (Role.ADMIN,)


@page("/admin/classifier", ADMIN_ROLES)
def classifier_admin(user: User) -> dict[str, Any]:
    return {"template": "classifier_admin.html"}


@page("/admin/triage", ADMIN_ROLES)
def triage_admin(user: User) -> dict[str, Any]:
    return {"template": "triage_admin.html"}
