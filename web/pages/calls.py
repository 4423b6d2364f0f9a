"""The call-centre page (/calls, zh-CN): the 漏接回拨 queue (deadline, overdue in red, a try
logged with its outcome) for operators, and the call-centre board (calls waiting, longest
wait, agents by state, answered within 15 s today) for dispatchers and leaders.

The page carries no rule: its script reads `GET /api/v1/calls?state=missed` and
`GET /api/v1/calls/board` and logs tries through `POST …/callback_attempts`.
"""

from __future__ import annotations

from typing import Any

from dispatch.core.models import User
from dispatch.core.vocab import Role
from web.pages.staff import page

CALLS_ROLES = (Role.OPERATOR, Role.DISPATCHER, Role.SUPERVISOR, Role.LEADER, Role.ADMIN)


@page("/calls", CALLS_ROLES)
def calls(user: User) -> dict[str, Any]:
    return {"template": "calls.html",
            "can_call_back": user.role in (Role.OPERATOR, Role.DISPATCHER, Role.SUPERVISOR)}
