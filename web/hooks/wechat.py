"""The WeChat official-account endpoint (CONTRACT.md): `GET/POST /hooks/wechat`.

Everything happens inside the request and nothing calls out, so the passive reply comes within
WeChat's 5 seconds; on PostgreSQL lock and statement timeouts keep a stuck row from holding
the request. A MsgId is a contact's external id: a retried push changes nothing and gets the
same reply.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, timedelta

from flask import Blueprint, Response, current_app, request
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import RequestEntityTooLarge

from dispatch.core.errors import DomainError
from dispatch.core.models import Contact, Event, Ticket
from dispatch.core.vocab import Channel, ContactKind, Role
from dispatch.intake.contacts import record_contact
from dispatch.intake.followups import add_to_demand, last_demand, open_tickets
from dispatch.intake.pipeline import intake
from dispatch.outbound.callbacks import answer_note, is_answer_note, record_citizen_answer, thanks
from dispatch.tickets.lifecycle import Actor
from grid.directory import SqlDirectory
from integrations.wechat import mapping
from integrations.wechat.inbound import (
    Credentials,
    Message,
    WeChatError,
    read_push,
    verify_url,
)
from web.api.tickets import commit
from web.extensions import db
from web.services import services

bp = Blueprint("wechat", __name__)

HOOK = "/hooks/wechat"
# An image or a location within this time of the citizen's last demand adds to it.
FOLLOW_UP_WINDOW = timedelta(minutes=30)
# The channel acts as a machine: it may open tickets, relocate new ones and add notes.
WECHAT_ACTOR = Actor(None, Role.SYSTEM, username="wechat")


def credentials() -> Credentials | None:
    """The account's settings from the app config (or HOTLINE_WECHAT_*); None when unset."""

    def setting(key: str) -> str | None:
        return current_app.config.get(key) or os.environ.get(f"HOTLINE_{key}") or None

    token = setting("WECHAT_TOKEN")
    if not token:
        return None
    return Credentials(token, setting("WECHAT_AES_KEY"), setting("WECHAT_APP_ID"))


def _plain(body: str, status: int = 200) -> Response:
    return Response(body, status, mimetype="text/plain")


UNCONFIGURED = "the WeChat account is not configured"


@bp.get(HOOK)
def verify() -> Response:
    """The server-address check: echo `echostr` when the signature is right."""
    creds = credentials()
    if creds is None:
        return _plain(UNCONFIGURED, 503)
    try:
        return _plain(verify_url(creds, request.args))
    except WeChatError as exc:
        return _plain(exc.message, exc.http_status)


@bp.post(HOOK)
def receive() -> Response:
    """One push: verify, act, and answer with a passive reply (or `success`)."""
    creds = credentials()
    if creds is None:
        return _plain(UNCONFIGURED, 503)
    try:
        body = request.get_data(cache=False)
        push = read_push(creds, request.args, body)
    except RequestEntityTooLarge:
        return _plain("the body is over 64 KiB", 413)
    except WeChatError as exc:
        return _plain(exc.message, exc.http_status)
    now = services().clock.now()
    try:
        content = handle(push.message, now)
    except (OperationalError, StaleDataError):
        # Busy or locked: answer an error so WeChat retries; the MsgId keeps it harmless.
        db.session.rollback()
        return _plain("busy, try again", 503)
    if content is None:
        return _plain("success")
    stamp = int(now.timestamp())
    reply = mapping.text_reply(push.message, content, stamp)
    if push.encrypted:
        reply = mapping.encrypted_reply(creds.crypto(), creds.token, reply, str(stamp),
                                        push.nonce)
    return Response(reply, 200, mimetype="application/xml")


def handle(message: Message, now: datetime) -> str | None:
    """Act on one message and give the reply text (None: answer `success`)."""
    if message.msg_type == "event":
        return mapping.WELCOME if message.event == "subscribe" else None
    if message.msg_type not in ("text", "voice", "image", "location"):
        return mapping.UNSUPPORTED
    assert message.msg_id is not None  # inbound refuses messages without one
    _bound_waits()
    seen = _contact_of(message.msg_id)
    if seen is not None:
        db.session.rollback()
        return _reply_for(seen, message)
    try:
        done = _act(message, now)
        if isinstance(done, str):
            db.session.rollback()
            return done
        contact, events = done
        commit(events)
    except IntegrityError:
        # The same push twice at once: the other request recorded this MsgId first.
        db.session.rollback()
        seen = _contact_of(message.msg_id)
        if seen is None:
            raise
        return _reply_for(seen, message)
    return _reply_for(contact, message)


def _bound_waits() -> None:
    """On PostgreSQL, cap lock and statement waits well inside WeChat's 5 seconds."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL lock_timeout = '2s'"))
        db.session.execute(text("SET LOCAL statement_timeout = '3s'"))


def _contact_of(msg_id: str) -> Contact | None:
    return db.session.scalar(select(Contact).where(Contact.channel == Channel.WECHAT,
                                                   Contact.external_id == msg_id))


def _reply_for(contact: Contact, message: Message) -> str:
    """The reply a recorded message gets, the same every time it is pushed."""
    ticket = db.session.get(Ticket, contact.ticket_id) if contact.ticket_id else None
    if contact.kind == ContactKind.ENQUIRY:
        return mapping.status_list(open_tickets(db.session, message.from_user))
    if ticket is None:
        return mapping.ASK_DESCRIPTION.format(what=mapping.kind_name(message))
    if is_answer_note(contact.note):
        return thanks(ticket.number)
    if contact.kind == ContactKind.NEW_DEMAND:
        return mapping.accepted(ticket.number)
    return mapping.added(ticket.number, mapping.kind_name(message))


def _act(message: Message, now: datetime) -> str | tuple[Contact, Sequence[Event]]:
    """Write what a new message means; a plain reply string when it writes nothing."""
    openid, msg_id = message.from_user, message.msg_id
    if mapping.is_query(message):
        contact = record_contact(db.session, channel=Channel.WECHAT, kind=ContactKind.ENQUIRY,
                                 received_at=now, actor_id=None, openid=openid,
                                 external_id=msg_id, note="查询办理进度")
        return contact, ()
    if message.msg_type == "text":
        # A reply to the callback questionnaire (1/满意/不满意…) while a ticket awaits one.
        answer = record_citizen_answer(db.session, openid=openid, text=message.content or "",
                                       channel="wechat", now=now,
                                       directory=SqlDirectory(db.session))
        if answer.recorded:
            return record_contact(db.session, channel=Channel.WECHAT, kind=ContactKind.FOLLOW_UP,
                                  received_at=now, actor_id=None, ticket=answer.ticket,
                                  openid=openid, external_id=msg_id,
                                  note=answer_note(message.content or "")), answer.events
    if message.msg_type in ("text", "voice"):
        if mapping.demand_text(message) is None:
            return mapping.NO_RECOGNITION if message.msg_type == "voice" else mapping.INVALID_TEXT
        try:
            result = intake(db.session, mapping.intake_data(message), WECHAT_ACTOR, now=now,
                            ports=services().intake_ports(db.session, now),
                            contact_external_id=msg_id)
        except DomainError:
            return mapping.INVALID_TEXT
        return result.contact, [result.event]
    ticket = last_demand(db.session, Channel.WECHAT, openid, now, FOLLOW_UP_WINDOW)
    events: list[Event] = []
    if ticket is not None:
        events, ticket = add_to_demand(
            db.session, ticket, WECHAT_ACTOR, now, note=mapping.note_text(message),
            relocate=(mapping.relocate_payload(message) if message.msg_type == "location"
                      else None),
            ports=services().intake_ports(db.session, now), directory=SqlDirectory(db.session))
    contact = record_contact(db.session, channel=Channel.WECHAT, kind=ContactKind.FOLLOW_UP,
                             received_at=now, actor_id=None, ticket=ticket, openid=openid,
                             external_id=msg_id, note=mapping.note_text(message))
    return contact, events
