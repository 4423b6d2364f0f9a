"""Emergencies on unattended channels (DOMAIN.md, Triage): a demand judged a police matter or
critical that arrives where no operator answers (WeChat, Open311, the web page, SMS replies)
raises an alarm at intake, tells the citizen at once to call 110 (119, 120 where it fits), and,
with `auto_transfer_110` on, goes to 110 straight away through the outbox.

The alarm itself is three actions of the state table (`raise_alarm`, `acknowledge_alarm`,
`escalate_alarm`); its 60-second clock is swept by `dispatch.tickets.alarm_clock.sweep_alarms`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.commands import RaiseAlarmPayload, Transfer110Payload
from dispatch.core.models import Event, Ticket
from dispatch.core.ports import DepartmentRef
from dispatch.core.settings import TriageSettings
from dispatch.core.vocab import Channel, Role, Status, Urgency
from dispatch.tickets.lifecycle import Actor, perform

# Channels with no operator at intake; "sms" is a citizen's SMS reply that opens a demand.
UNATTENDED_CHANNELS = frozenset({Channel.WECHAT.value, Channel.OPEN311.value, Channel.WEB.value,
                                 "sms"})
ALARM_ACTOR = Actor(None, Role.SYSTEM, username="alarm")
AUTO_TRANSFER_REASON = "无人值守渠道的紧急诉求，按设置自动转110"

# Words that call for the fire and rescue service (119) or an ambulance (120) besides 110.
# No single characters: 火 is in 火车站, 血 in 血压 (see dispatch/triage/rules/phrases.py).
FIRE_WORDS = ("着火", "起火", "失火", "火灾", "大火", "火势", "火苗", "冒烟", "浓烟", "烧起来",
              "燃气", "煤气", "天然气", "液化气", "爆炸", "被困", "困在", "卡住了", "出不来",
              "落水", "掉进河", "掉河里", "掉水里", "溺水", "跳河", "跳楼", "要跳")
MEDICAL_WORDS = ("受伤", "伤者", "流血", "出血", "吐血", "是血", "鲜血", "砍伤", "刺伤", "捅伤",
                 "撞伤", "摔伤", "骨折", "昏迷", "晕倒", "昏倒", "不省人事", "没有呼吸", "没呼吸",
                 "心跳", "抽搐", "中毒", "喝药", "吃药", "割腕", "自杀", "轻生", "不想活",
                 "车祸", "撞了人", "撞人", "被撞", "砍人", "捅人", "打伤", "急救")


def unattended(channel: str) -> bool:
    """No operator answers at intake on this channel."""
    return channel in UNATTENDED_CHANNELS


def is_emergency(ticket: Ticket, suggestion: Any = None) -> bool:
    """A police matter or critical: by the ticket's fields, or by the suggestion's own
    `emergency` judgement when the classifier gives one."""
    if ticket.police_matter or ticket.urgency == Urgency.CRITICAL:
        return True
    return bool(getattr(suggestion, "emergency", False))


def numbers_to_call(text: str) -> tuple[str, ...]:
    """110 always; 119 for fire, gas, people trapped or in water; 120 for the injured or ill."""
    out = ["110"]
    if any(w in text for w in FIRE_WORDS):
        out.append("119")
    if any(w in text for w in MEDICAL_WORDS):
        out.append("120")
    return tuple(out)


def advice(number: str, numbers: tuple[str, ...] | list[str], transferred: bool) -> str:
    """What the citizen is told at once, in every channel's reply."""
    extra = []
    if "119" in numbers:
        extra.append("火情、燃气泄漏或有人被困、落水请同时拨打119")
    if "120" in numbers:
        extra.append("有人受伤或身体不适请同时拨打120")
    detail = "（" + "；".join(extra) + "）" if extra else ""
    sent = "，并已将您的诉求转交110" if transferred else ""
    return (f"您反映的情况可能危及人身安全，请立即拨打110报警{detail}。"
            f"工单号 {number}，值班人员已收到警报{sent}。")


@dataclass(frozen=True)
class Alarm:
    """What intake did about an emergency: the numbers the citizen is told and whether the
    ticket went to 110 at once."""

    numbers: tuple[str, ...]
    transferred: bool

    def advice(self, number: str) -> str:
        """The reply text for the citizen."""
        return advice(number, self.numbers, self.transferred)


class _NoDirectory:
    """The alarm actions never look a department up."""

    def department(self, code: str) -> DepartmentRef | None:
        return None


def raise_at_intake(session: Session, ticket: Ticket, suggestion: Any, settings: TriageSettings,
                    now: datetime) -> tuple[Alarm | None, list[Event]]:
    """On an unattended channel, an emergency raises its alarm (and goes to 110 at once when
    `auto_transfer_110` is on); anything else: nothing."""
    if not unattended(ticket.channel) or not is_emergency(ticket, suggestion):
        return None, []
    numbers = numbers_to_call(ticket.text)
    why = [str(r)[:2000] for r in getattr(suggestion, "reasons", ())][:8]
    directory = _NoDirectory()
    events = list(perform(session, ticket, "raise_alarm", ALARM_ACTOR,
                          RaiseAlarmPayload(numbers=list(numbers), reasons=why),
                          now=now, directory=directory).events)
    transferred = False
    if settings.auto_transfer_110 and ticket.status == Status.NEW:
        events += perform(session, ticket, "transfer_110", ALARM_ACTOR,
                          Transfer110Payload(reason=AUTO_TRANSFER_REASON),
                          now=now, directory=directory).events
        transferred = True
    return Alarm(numbers, transferred), events


def alarm_of(session: Session, ticket: Ticket) -> Alarm | None:
    """The alarm intake raised for this ticket, as told to the citizen (a retried message gets
    the same reply); None when there was none."""
    if ticket.alarm_raised_at is None:
        return None
    rows = session.execute(select(Event.action, Event.payload).where(
        Event.ticket_id == ticket.id, Event.action.in_(("raise_alarm", "transfer_110")),
        Event.at == ticket.alarm_raised_at).order_by(Event.id)).all()
    numbers: tuple[str, ...] = ("110",)
    transferred = False
    for action, payload in rows:
        if action == "raise_alarm":
            numbers = tuple((payload or {}).get("numbers") or numbers)
        elif (payload or {}).get("automatic"):
            transferred = True
    return Alarm(numbers, transferred)
