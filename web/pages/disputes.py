"""The hotline office's 定责 page (会商定责, DOMAIN.md "Grid governance"): `/disputes` lists the
tickets returned twice or by two departments, with each return and its reason and the
departments' opinions; dispatchers and supervisors ask for opinions (a note on the ticket)
and decide the lead (`decide_lead`); leaders read. A shell: its script reads and acts through
/api/v1."""

from __future__ import annotations

from typing import Any

from dispatch.core.models import User
from web.pages.staff import DISPUTE_OFFICE, DISPUTE_ROLES, page


@page("/disputes", DISPUTE_ROLES)
def disputes(user: User) -> dict[str, Any]:
    return {"template": "disputes.html",
            "boot": {"office": user.role in DISPUTE_OFFICE}}
