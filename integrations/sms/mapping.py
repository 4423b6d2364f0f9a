"""Our events ⇄ SMS texts: notices to handlers and grid workers, the callback questionnaire
(each one SMS segment, ≤ 70 characters with the signature), and the citizen's reply parsed
into a satisfaction answer."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from dispatch.vocab import Satisfaction

SIGN = "长垣12345"
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


def callback_questionnaire(ticket_no: str, *, sign: str = SIGN) -> str:
    """The callback (回访) questionnaire: satisfaction 1–3, resolved 4–5."""
    return (f"【{sign}】您反映的问题（工单{ticket_no}）已办结，请回复："
            "1满意2基本满意3不满意，4已解决5未解决")


# ---------------------------------------------------------------- replies


@dataclass(frozen=True)
class SatisfactionAnswer:
    """A citizen's answer to the questionnaire; `resolved` is None when not said."""

    satisfaction: Satisfaction
    resolved: bool | None = None


DIGITS: dict[str, Satisfaction | bool] = {
    "1": Satisfaction.SATISFIED, "2": Satisfaction.BASICALLY_SATISFIED,
    "3": Satisfaction.DISSATISFIED, "4": True, "5": False,
}
# Longest and negated forms first: each match is cut out before the next pattern looks, so
# "不满意" never also counts as "满意", nor "没解决" as "解决".
WORDS: tuple[tuple[re.Pattern[str], Satisfaction | bool], ...] = tuple(
    (re.compile(pattern), value) for pattern, value in (
        (r"(没|未|没有|还没有?|并没有?|并未|尚未|根本没有?|仍未|依然没有?|还是没有?)"
         r"(得到|被)?(彻底|完全|真正)?(解决|处理好?|办好|修好)", False),
        (r"不(是很|是太|是|太|怎么|大|很|够)?满意|不满|差评|很差|太差", Satisfaction.DISSATISFIED),
        (r"基本满意|比较满意|还算满意|还比较满意|一般般?|还行|还可以|凑合",
         Satisfaction.BASICALLY_SATISFIED),
        (r"满意|好评", Satisfaction.SATISFIED),
        (r"(已经?|都)?(得到|被)?(基本|彻底|完全)?(解决|处理好|办好|修好)了?", True),
    )
)
# A reply is short; a long text is a new demand or a complaint for an operator to read.
MAX_REPLY = 30
NUMBER_RUN = re.compile(r"[0-9]+")


def _normalize(text: str) -> str:
    # NFKC turns full-width digits and punctuation (１，！) into ASCII.
    return unicodedata.normalize("NFKC", text).strip().lower()


def parse_reply(text: str) -> SatisfactionAnswer | None:
    """The satisfaction (and whether it was resolved) in an SMS reply; None when the text is
    ambiguous, contradicts itself, or is not an answer."""
    rest = _normalize(text)
    if not rest or len(rest) > MAX_REPLY:
        return None
    found: list[Satisfaction | bool] = []
    for pattern, value in WORDS:
        rest, hits = pattern.subn(" ", rest)
        found += [value] * hits
    for run in NUMBER_RUN.findall(rest):
        # Long numbers (a phone, a ticket number) are not options; 1–2 digits are ("1", "14").
        if len(run) > 2:
            continue
        if any(d not in DIGITS for d in run):
            return None
        found += [DIGITS[d] for d in run]
    sats = {v for v in found if isinstance(v, Satisfaction)}
    resolved = {v for v in found if isinstance(v, bool)}
    if len(sats) != 1 or len(resolved) > 1:
        return None
    return SatisfactionAnswer(sats.pop(), resolved.pop() if resolved else None)
