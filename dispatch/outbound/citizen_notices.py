"""Progress notices to a citizen who wrote on WeChat (DOMAIN.md "WeChat outbound"): "已派单" when
the ticket is dispatched, "已办结，请评价" with the callback questionnaire when the review is
accepted. The domain decides what is owed and writes it to the outbox (topic `wechat.notice`),
in the action's transaction; `integrations.wechat.client` sends it: a customer-service message
while the citizen's last message is less than 48 hours old, a subscribe message otherwise, SMS
(the payload's `sms`) when neither can be sent.

A ticket that came by any other channel gets what it got before (the SMS questionnaire).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.core.models import Contact, Event, Ticket
from dispatch.core.vocab import Channel
from dispatch.outbound import outbox

TOPIC = "wechat.notice"
# WeChat accepts customer-service messages within 48 hours of the citizen's last message.
WINDOW = timedelta(hours=48)
SIGN = "长垣12345"

DISPATCHED = "dispatched"
QUESTIONNAIRE = "questionnaire"


def dispatched_text(ticket_no: str) -> str:
    """The customer-service text of the dispatch notice."""
    return f"您反映的问题（工单{ticket_no}）已派单至承办单位办理，办理结果将及时告知您。"


def dispatched_sms(ticket_no: str, *, sign: str = SIGN) -> str:
    """The same notice as one SMS segment (the fallback)."""
    return f"【{sign}】您反映的问题（工单{ticket_no}）已派单，我们将督促承办单位及时办理。"


def questionnaire_text(ticket_no: str) -> str:
    """The customer-service text of the completion notice with the questionnaire; the reply
    is read by `callbacks.parse_reply`, as an SMS reply is."""
    return (f"您反映的问题（工单{ticket_no}）已办结，请评价。请直接回复："
            "1满意2基本满意3不满意，4已解决5未解决")


# The subscribe message's fields (see README, HOTLINE_WECHAT_SUBSCRIBE_TEMPLATE): the template
# holds the ticket number, a status (≤5 characters) and a note (≤20 characters).
SUBSCRIBE = {
    DISPATCHED: ("已派单", "承办单位正在办理"),
    QUESTIONNAIRE: ("已办结", "请回复1满意2基本满意3不满意"),
}


def wechat_citizen(ticket: Ticket) -> bool:
    """Whether the ticket's citizen is reached on WeChat: it came by WeChat, with an OpenID,
    and the citizen may be contacted (not anonymous; a confidential demand only when the
    citizen agreed to be contacted directly)."""
    return (ticket.channel == Channel.WECHAT and bool(ticket.citizen_openid)
            and not ticket.anonymous and (not ticket.confidential or ticket.direct_contact))


def last_message_at(session: Session, openid: str) -> datetime | None:
    """When the citizen last wrote to the account (their latest WeChat contact)."""
    return session.scalar(select(func.max(Contact.received_at)).where(
        Contact.channel == Channel.WECHAT, Contact.openid == openid))


def payload(session: Session, ticket: Ticket, kind: str, *, ref: str, sms_text: str
            ) -> dict[str, Any]:
    """The outbox payload of one notice (everything the sender needs, no database)."""
    assert ticket.citizen_openid is not None
    last = last_message_at(session, ticket.citizen_openid)
    status, note = SUBSCRIBE[kind]
    text = dispatched_text(ticket.number) if kind == DISPATCHED else questionnaire_text(
        ticket.number)
    return {
        "touser": ticket.citizen_openid, "kind": kind, "ticket_no": ticket.number,
        "text": text, "last_message_at": last.isoformat() if last else None,
        "subscribe": {"status": status, "note": note},
        "sms": ({"to": ticket.citizen_phone, "text": sms_text}
                if ticket.citizen_phone else None),
        "ref": ref,
    }


def dispatch_notice_owed(session: Session, ticket: Ticket, action: str, reason: str | None,
                         now: datetime) -> None:
    """After the first dispatch of a WeChat citizen's ticket, owe them "已派单" (a re-dispatch
    after a return tells them nothing new)."""
    if action != "dispatch" or not wechat_citizen(ticket):
        return
    key = f"{TOPIC}:{ticket.number}:{DISPATCHED}"
    outbox.enqueue(session, TOPIC, payload(session, ticket, DISPATCHED, ref=key,
                                           sms_text=dispatched_sms(ticket.number)),
                   key=key, ticket_id=ticket.id, now=now)


def questionnaire_owed(session: Session, ticket: Ticket, sms_text: str, now: datetime) -> bool:
    """Owe a WeChat citizen "已办结，请评价" with the questionnaire (once per review round);
    `sms_text` is the SMS questionnaire, the fallback."""
    rounds = session.scalar(select(func.count()).select_from(Event).where(
        Event.ticket_id == ticket.id, Event.action == "review_accept")) or 0
    key = f"{TOPIC}:{ticket.number}:{QUESTIONNAIRE}:{rounds}"
    return outbox.enqueue(session, TOPIC, payload(session, ticket, QUESTIONNAIRE, ref=key,
                                                  sms_text=sms_text),
                          key=key, ticket_id=ticket.id, now=now)
