"""Automatic dispatch (智能派单, DOMAIN.md Triage): a confident, ordinary demand with an
unambiguous catalogue rule is dispatched at intake without a dispatcher.

The decision, each condition with its reason in Chinese:

1. the category has a minimum confidence in the triage settings (itself or an ancestor; none:
   off, the default for every category);
2. the suggestion is at least that confident about the category (the classifier's own
   `confidence` when it gives one, else an estimate from the rule scores, `rule_confidence`),
   and the ticket's category is the suggested one or lies in its branch;
3. not a police matter, not critical, no doubt flagged by the classifier, not confidential,
   not anonymous without a place, not a candidate repeat of an open ticket;
4. the catalogue names exactly one lead by a rule (no fallback, nothing left to a dispatcher).

The dispatch is the ordinary `dispatch` action by the system with an `AutoDispatchPayload`:
its event says `dispatched_by: "auto"` with the reasons, its assignments are marked
`auto_dispatched`; a dispatcher can `take_back` the ticket.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.commands import AutoDispatchPayload
from dispatch.core.errors import InvalidInput
from dispatch.core.models import Category, Event, Ticket
from dispatch.core.ports import Directory, IntakePorts, Routing
from dispatch.core.settings import (
    TRIAGE_KEY,
    TriageSettings,
    check_triage_settings,
    get_triage_settings,
    store_setting,
)
from dispatch.core.vocab import Role, Status, Urgency
from dispatch.intake.repeats import category_tree
from dispatch.tickets.lifecycle import Actor, perform

AUTO_ACTOR = Actor(None, Role.SYSTEM, username="auto")
# An on-site rule whose place is unknown names no grid worker: the lead department still
# acts (a dispatcher may add a worker later); anything else a router leaves to a dispatcher
# ("请派单员…") keeps the ticket for one.
NO_WORKER = "请派单员指定网格员"
DOUBT_MARK = "疑似涉警"  # the rule classifier's doubt note (疑似涉警/紧急，请话务员确认)
# Location flags that leave a territorial lead in doubt.
UNSURE_PLACE = frozenset({"outside_grid", "nearest_cell", "near_boundary", "no_grid",
                          "address_not_found", "address_approximate", "swapped_coordinates"})
_RULE_SCORE = re.compile(r"→ 分类 (\S+) \(([+-]?\d+(?:\.\d+)?)\)")


@dataclass(frozen=True)
class Decision:
    """Whether to dispatch automatically, and why (or why not)."""

    dispatch: bool
    reasons: tuple[str, ...]
    confidence: float | None = None
    threshold: float | None = None
    setting: str | None = None
    source: str | None = None


# ---------------------------------------------------------------- settings


def get_settings(session: Session) -> TriageSettings:
    """The triage settings in force."""
    return get_triage_settings(session)


def set_settings(session: Session, data: Any, actor_id: int | None) -> TriageSettings:
    """Replace the triage settings (fields left out take the defaults); a bad value or an
    unknown category is refused in Chinese, naming the field, and nothing is written."""
    value = check_triage_settings(data)
    tree = category_tree(session)
    for code in value.auto_dispatch:
        node = tree.get(code)
        if node is None or not node[1]:
            raise InvalidInput(f"auto_dispatch.{code}: 没有启用中的分类“{code}”",
                               field=f"auto_dispatch.{code}")
    return store_setting(session, TRIAGE_KEY, TriageSettings, value.model_dump(), actor_id,
                         record_as="triage_settings")


def settings_view(session: Session, value: TriageSettings) -> dict[str, Any]:
    """The settings with the categories' names, as the admin page shows them."""
    codes = list(value.auto_dispatch)
    names: dict[str, str] = {}
    if codes:
        names = {code: name for code, name in session.execute(
            select(Category.code, Category.name).where(Category.code.in_(codes)))}
    return {**value.model_dump(mode="json"),
            "category_names": {code: names.get(code, code) for code in codes}}


# ---------------------------------------------------------------- confidence


def rule_confidence(suggestion: Any) -> float:
    """A rough confidence of the rule classifier in its category, from the weights its reasons
    list (score / (score + 2): one strong phrase ≈ 0.7, two ≈ 0.8), lowered when a runner-up
    scored close; 0 when it named no category. Used only when the classifier gives none."""
    category = getattr(suggestion, "category", None)
    if not category:
        return 0.0
    reasons = [str(r) for r in getattr(suggestion, "reasons", ())]
    score = sum(float(w) for r in reasons for code, w in _RULE_SCORE.findall(r)
                if code == category)
    if score <= 0:
        return 0.0
    confidence = score / (score + 2.0)
    if any(r.startswith("分类：") and "接近" in r for r in reasons):
        confidence *= 0.6
    return round(min(confidence, 0.95), 3)


def category_confidence(suggestion: Any) -> tuple[float, str]:
    """The suggestion's confidence in its category and where it comes from (the model's
    version, `rules`, or `rules-estimate` when the classifier gives no confidence)."""
    given = getattr(suggestion, "confidence", None)
    if isinstance(given, dict) and isinstance(given.get("category"), int | float):
        return float(given["category"]), str(getattr(suggestion, "model", None) or "model")
    return rule_confidence(suggestion), "rules-estimate"


def _chain(session: Session, code: str) -> list[str]:
    tree = category_tree(session)
    chain: list[str] = []
    current: str | None = code
    while current and current in tree and current not in chain:
        chain.append(current)
        current = tree[current][0]
    return chain


def _in_branch(session: Session, ticket_category: str, suggested: str) -> bool:
    return suggested in _chain(session, ticket_category) or \
        ticket_category in _chain(session, suggested)


# ---------------------------------------------------------------- the decision


def decide(session: Session, ticket: Ticket, suggestion: Any, routing: Routing,
           settings: TriageSettings, *, repeats: int = 0) -> Decision:
    """Whether this new ticket is dispatched automatically, with the reasons."""
    category = ticket.category_code
    if category is None:
        return Decision(False, ("未分类",))
    setting = settings.threshold(_chain(session, category))
    if setting is None:
        return Decision(False, ("该分类未开启智能派单",))
    code, threshold = setting
    confidence, source = category_confidence(suggestion)
    suggested = getattr(suggestion, "category", None)
    why_not: list[str] = []
    if not suggested or not _in_branch(session, category, suggested):
        why_not.append("分类与系统建议不一致")
    elif confidence < threshold:
        why_not.append(f"分类置信度 {confidence:.2f} 低于阈值 {threshold:.2f}")
    if ticket.police_matter or getattr(suggestion, "police_matter", False):
        why_not.append("涉警事项")
    if ticket.urgency == Urgency.CRITICAL or getattr(suggestion, "emergency", False):
        why_not.append("特急事项")
    if getattr(suggestion, "doubts", ()) or \
            any(DOUBT_MARK in str(r) for r in getattr(suggestion, "reasons", ())):
        why_not.append("系统提示疑似涉警或紧急")
    if ticket.confidential:
        why_not.append("保密诉求")
    if ticket.anonymous and ticket.lon is None and not ticket.address:
        why_not.append("匿名且无位置")
    if repeats:
        why_not.append("疑似重复诉求，待派单员判断是否并单")
    if ticket.type is None:
        why_not.append("未定类型")
    if routing.rule is None or routing.lead is None:
        why_not.append("派单目录未明确主办部门")
    elif any("请派单员" in r and NO_WORKER not in r for r in routing.reasons):
        why_not.append("派单目录需派单员确认")
    elif any("属地主办" in r for r in routing.reasons) and \
            UNSURE_PLACE & set(ticket.location_flags or ()):
        why_not.append("属地主办但位置存疑")
    if why_not:
        return Decision(False, tuple(why_not), confidence, threshold, code, source)
    reasons = (f"分类置信度 {confidence:.2f} ≥ 阈值 {threshold:.2f}（{code}，依据 {source}）",
               "非涉警、非特急、非保密", *routing.reasons)
    return Decision(True, reasons, confidence, threshold, code, source)


def dispatch_at_intake(session: Session, ticket: Ticket, decision: Decision, now: datetime,
                       directory: Directory, ports: IntakePorts) -> list[Event]:
    """Dispatch a ticket the decision allows, as the system (智能派单)."""
    assert decision.dispatch and decision.confidence is not None
    assert decision.threshold is not None and decision.setting and decision.source
    if ticket.status != Status.NEW:
        return []
    payload = AutoDispatchPayload(
        confidence=decision.confidence, threshold=decision.threshold,
        setting=decision.setting, source=decision.source[:80],
        reasons=[r[:2000] for r in decision.reasons][:20],
        reason="智能派单")
    return list(perform(session, ticket, "dispatch", AUTO_ACTOR, payload, now=now,
                        directory=directory, ports=ports).events)
