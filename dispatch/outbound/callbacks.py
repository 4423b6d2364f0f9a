"""Callbacks (回访, DOMAIN.md "Callback and satisfaction"): the operators' queue, the SMS
questionnaire owed after a review is accepted, and a citizen's answer by SMS or WeChat parsed
and recorded through the lifecycle as the system.

The questionnaire text and the reply parser live here, not in `integrations.sms`, because the
domain builds what it owes (the outbox row) and reads what comes back; the SMS adapter
re-exports both and only sends.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from dispatch.core.commands import CallbackPayload
from dispatch.core.errors import InvalidInput
from dispatch.core.models import Contact, Event, Ticket
from dispatch.core.ports import Directory
from dispatch.core.vocab import Channel, ContactKind, Satisfaction, Status
from dispatch.intake.contacts import record_contact
from dispatch.intake.phones import normalize_phone
from dispatch.outbound import citizen_notices, outbox
from dispatch.tickets import lifecycle

QUESTIONNAIRE = "sms.questionnaire"
SIGN = "长垣12345"
ANSWER_NOTE = "回访评价："  # how a contact that carried a callback answer is noted
TICKET_NUMBER = re.compile(r"\d{5}-\d{8}-\d{6}")

Via = Literal["sms", "wechat"]
Result = Literal["recorded", "unrecognised", "no_ticket"]


# ---------------------------------------------------------------- texts


def callback_questionnaire(ticket_no: str, *, sign: str = SIGN) -> str:
    """The callback (回访) questionnaire: satisfaction 1–3, resolved 4–5."""
    return (f"【{sign}】您反映的问题（工单{ticket_no}）已办结，请回复："
            "1满意2基本满意3不满意，4已解决5未解决")


def thanks(ticket_no: str) -> str:
    """The reply to a recorded answer (the same every time the message is pushed again)."""
    return f"感谢您的评价！工单{ticket_no}的回访结果已记录，如问题仍未解决，我们将督促重新办理。"


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
    """The satisfaction (and whether it was resolved) in a reply; None when the text is
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


# ---------------------------------------------------------------- the queue


@dataclass(frozen=True)
class QueueItem:
    """A reviewed ticket awaiting its callback, with its clock and the tries so far."""

    ticket: Ticket
    deadline: datetime | None
    overdue: bool
    attempts: int
    department: str | None  # the lead department that handled it (a reopen goes back there)


def _awaiting() -> list[ColumnElement[bool]]:
    # The same test as lifecycle.needs_callback: anything else was archived at review.
    return [Ticket.status == Status.REVIEWED, Ticket.anonymous.is_(False),
            or_(Ticket.citizen_phone.is_not(None), Ticket.citizen_openid.is_not(None))]


def queue_size(session: Session) -> int:
    """How many reviewed tickets await a callback."""
    return session.scalar(select(func.count()).select_from(Ticket).where(*_awaiting())) or 0


def callback_queue(session: Session, now: datetime, *, limit: int = 50,
                   offset: int = 0) -> list[QueueItem]:
    """Reviewed tickets awaiting a callback, the earliest callback deadline first."""
    tickets = session.scalars(
        select(Ticket).where(*_awaiting())
        .order_by(Ticket.callback_deadline.asc().nulls_last(), Ticket.id)
        .limit(limit).offset(offset)
        .options(selectinload(Ticket.assignments), selectinload(Ticket.parent))
    ).all()
    items = []
    for t in tickets:
        leads = [a for a in t.assignments if a.role == "lead"]
        items.append(QueueItem(
            t, t.callback_deadline,
            t.callback_deadline is not None and now > t.callback_deadline,
            t.callback_attempts, leads[-1].department_code if leads else None))
    return items


# ---------------------------------------------------------------- the questionnaire


def _sends_questionnaire(ticket: Ticket) -> bool:
    # A confidential demand (e.g. a report on an employer or a neighbour) gets no automatic
    # SMS, whose sender and text others may see on the phone, unless the citizen agreed to be
    # contacted directly; an operator calls back instead (the ticket stays in the queue).
    return (ticket.status == Status.REVIEWED and lifecycle.needs_callback(ticket)
            and ticket.citizen_phone is not None
            and (not ticket.confidential or ticket.direct_contact))


def questionnaire_owed(session: Session, ticket: Ticket, action: str, now: datetime) -> bool:
    """After a review is accepted, owe the citizen the SMS questionnaire (once per review
    round), in the action's transaction; True when a message was queued. A citizen who wrote
    on WeChat gets it on WeChat ("已办结，请评价"), the SMS as its fallback."""
    if action != "review_accept":
        return False
    if (ticket.status == Status.REVIEWED and lifecycle.needs_callback(ticket)
            and citizen_notices.wechat_citizen(ticket)):
        return citizen_notices.questionnaire_owed(
            session, ticket, callback_questionnaire(ticket.number), now)
    if not _sends_questionnaire(ticket):
        return False
    assert ticket.citizen_phone is not None
    rounds = session.scalar(select(func.count()).select_from(Event).where(
        Event.ticket_id == ticket.id, Event.action == "review_accept")) or 0
    key = f"{QUESTIONNAIRE}:{ticket.number}:{rounds}"
    return outbox.enqueue(session, QUESTIONNAIRE, {
        "to": ticket.citizen_phone, "text": callback_questionnaire(ticket.number),
        "ticket_no": ticket.number, "kind": "questionnaire", "ref": key,
    }, key=key, ticket_id=ticket.id, now=now)


# ---------------------------------------------------------------- citizens' answers


@dataclass(frozen=True)
class AnswerOutcome:
    """What became of a citizen's reply: recorded on a ticket, not an answer, or no ticket."""

    result: Result
    ticket: Ticket | None = None
    answer: SatisfactionAnswer | None = None
    events: list[Event] = field(default_factory=list)

    @property
    def recorded(self) -> bool:
        return self.result == "recorded"


def _phone_or_none(raw: str | None) -> str | None:
    """The sender's number normalised, or None when it is not a valid phone number."""
    if not raw:
        return None
    try:
        return normalize_phone(raw, "from")
    except InvalidInput:
        return None


def awaiting_ticket(session: Session, *, phone: str | None = None, openid: str | None = None,
                    text: str = "") -> Ticket | None:
    """The citizen's ticket awaiting a callback: the one whose number the reply quotes, else
    the most recently reviewed."""
    who = []
    number = _phone_or_none(phone)
    if number:
        who.append(Ticket.citizen_phone == number)
    if openid:
        who.append(Ticket.citizen_openid == openid)
    if not who:
        return None
    candidates = session.scalars(
        select(Ticket).where(and_(*_awaiting()), or_(*who))
        .order_by(Ticket.callback_deadline.desc().nulls_last(), Ticket.id.desc())
    ).all()
    quoted = set(TICKET_NUMBER.findall(_normalize(text)))
    named = [t for t in candidates if t.number in quoted]
    chosen = named or list(candidates)
    return chosen[0] if chosen else None


def record_citizen_answer(session: Session, *, phone: str | None = None,
                          openid: str | None = None, text: str, channel: Via, now: datetime,
                          directory: Directory) -> AnswerOutcome:
    """Record a questionnaire reply as the ticket's callback, taken by the system; an
    unparseable or ambiguous reply, or one with no ticket awaiting, changes nothing."""
    ticket = awaiting_ticket(session, phone=phone, openid=openid, text=text)
    if ticket is None:
        return AnswerOutcome("no_ticket")
    answer = parse_reply(text)
    if answer is None:
        return AnswerOutcome("unrecognised", ticket)
    resolved = answer.resolved
    source = "短信" if channel == "sms" else "微信"
    reason = f"市民{source}回复问卷：{_normalize(text)}"
    if resolved is None:
        # The lifecycle records both answers; one satisfied without a word on the outcome
        # counts as resolved, one dissatisfied as not (and the reason says it was inferred).
        resolved = answer.satisfaction != Satisfaction.DISSATISFIED
        reason += "（未答解决情况，按满意度推定）"
    payload = CallbackPayload(reached=True, satisfaction=answer.satisfaction,
                              resolved=resolved, via=channel, reason=reason)
    result = lifecycle.perform(session, ticket, "callback", lifecycle.SYSTEM, payload,
                               now=now, directory=directory)
    return AnswerOutcome("recorded", ticket, answer, result.events)


def answer_note(text: str) -> str:
    """The note of a contact that carried a recorded callback answer."""
    return ANSWER_NOTE + text.strip()[:200]


def is_answer_note(note: str | None) -> bool:
    """Whether a contact's note says it carried a recorded callback answer."""
    return bool(note and note.startswith(ANSWER_NOTE))


# ---------------------------------------------------------------- SMS replies


@dataclass(frozen=True)
class SmsReplyOutcome:
    """What an SMS reply became: its result, whether it was seen before, the events."""

    result: str  # recorded, unrecognised, no_ticket
    duplicate: bool
    events: list[Event] = field(default_factory=list)


def _sms_contact(session: Session, external_id: str) -> Contact | None:
    return session.scalar(select(Contact).where(Contact.channel == Channel.PHONE,
                                                Contact.external_id == external_id))


def sms_reply_seen(session: Session, external_id: str) -> SmsReplyOutcome | None:
    """The outcome of a reply already recorded under this gateway id (None: new)."""
    contact = _sms_contact(session, external_id)
    if contact is None:
        return None
    if is_answer_note(contact.note):
        result = "recorded"
    else:
        result = "unrecognised" if contact.ticket_id is not None else "no_ticket"
    return SmsReplyOutcome(result, True)


def record_sms_reply(session: Session, *, external_id: str, sender: str, text: str,
                     now: datetime, directory: Directory) -> SmsReplyOutcome:
    """A citizen's SMS reply: recorded as the callback answer when it is one, and always as a
    contact (idempotent by the gateway's message id)."""
    seen = sms_reply_seen(session, external_id)
    if seen is not None:
        return seen
    outcome = record_citizen_answer(session, phone=sender, text=text, channel="sms", now=now,
                                    directory=directory)
    note = answer_note(text) if outcome.recorded else f"短信回复：{text.strip()[:200]}"
    phone = _phone_or_none(sender)
    record_contact(session, channel=Channel.PHONE, kind=ContactKind.FOLLOW_UP,
                   received_at=now, actor_id=None, ticket=outcome.ticket, phone=phone,
                   external_id=external_id, note=note)
    return SmsReplyOutcome(outcome.result, False, outcome.events)
