"""The 110 desk's page (/police, zh-CN): the transfers sent to 110 and those 110 sent to 12345,
with their state and clock; accept / reject / complete with cause; the 首接 history.

The page carries no rule: its script lists through `GET /api/v1/tickets` (scoped by
`dispatch.tickets.access`, the one rule every reader uses) and acts through the ticket actions.
"""

from __future__ import annotations

from typing import Any

from dispatch.core.models import User
from web.pages.staff import POLICE_ROLES, page


@page("/police", POLICE_ROLES)
def police(user: User) -> dict[str, Any]:
    return {"template": "police.html"}
