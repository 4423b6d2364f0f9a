"""Our events ⇄ SMS texts: notices to handlers and grid workers, the callback questionnaire
(each one SMS segment, ≤ 70 characters with the signature), and the citizen's reply parsed
into a satisfaction answer."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

# The questionnaire and the reply parser belong to the domain (it owes the one and records
# the other); they are re-exported here for the adapter's callers.
from dispatch.outbound.callbacks import (
    SIGN,
    SatisfactionAnswer,
    callback_questionnaire,
    parse_reply,
)

__all__ = [
    "SEGMENT", "SIGN", "SatisfactionAnswer", "assignment_notice", "callback_questionnaire",
    "overdue_notice", "parse_reply", "urge_notice",
]

SEGMENT = 70  # characters of one Chinese (UCS-2) SMS, signature included
LOCAL = ZoneInfo("Asia/Shanghai")
CATEGORY_MAX = 8


def _when(deadline_local: datetime) -> str:
    # An aware time is shown in Beijing time; a naive one is taken as already local.
    if deadline_local.tzinfo is not None:
        deadline_local = deadline_local.astimezone(LOCAL)
    return f"{deadline_local.month}月{deadline_local.day}日{deadline_local:%H:%M}"


def _short(name: str, limit: int = CATEGORY_MAX) -> str:
    name = " ".join(name.split())
    return name if len(name) <= limit else name[:limit - 1] + "…"


def assignment_notice(ticket_no: str, category_name: str, deadline_local: datetime, *,
                      sign: str = SIGN) -> str:
    """To the assignee (department handler or grid worker): a new ticket and its deadline."""
    return (f"【{sign}】新派工单{ticket_no}（{_short(category_name)}），请及时签收，"
            f"于{_when(deadline_local)}前办结。")


def urge_notice(ticket_no: str, deadline_local: datetime, *, sign: str = SIGN) -> str:
    """The automatic urge (催办) at the warning point: the deadline is near."""
    return f"【{sign}】催办：工单{ticket_no}将于{_when(deadline_local)}到期，请抓紧办理。"


def overdue_notice(ticket_no: str, deadline_local: datetime, *, sign: str = SIGN) -> str:
    """The urge past the deadline: the ticket is overdue (超期)."""
    return (f"【{sign}】超期：工单{ticket_no}已超过办理时限（{_when(deadline_local)}），"
            "请立即办理并反馈。")
