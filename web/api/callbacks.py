"""Callbacks over HTTP: `GET /api/v1/callbacks` (the operators' queue, masked like every
ticket read) and `POST /hooks/sms/replies` (the SMS gateway's inbound replies to the
questionnaire, by bearer token, idempotent by the gateway's message id)."""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import UnsupportedMediaType

from dispatch.core.commands import Strict, parse
from dispatch.core.errors import InvalidInput
from dispatch.core.models import Contact
from dispatch.core.vocab import Channel, ContactKind, Role
from dispatch.intake.contacts import record_contact
from dispatch.intake.phones import normalize_phone
from dispatch.outbound.callbacks import (
    answer_note,
    callback_queue,
    is_answer_note,
    queue_size,
    record_citizen_answer,
)
from dispatch.tickets.lifecycle import Actor
from dispatch.tickets.readmodel import list_view
from grid.directory import SqlDirectory
from web.api.tickets import commit, endpoint
from web.errors import error_response
from web.extensions import db
from web.services import services

bp = Blueprint("sms_hooks", __name__)

REPLIES = "/hooks/sms/replies"
# Channel has no `sms`: a reply is a contact on the phone channel, its id prefixed.
SMS_PREFIX = "sms:"
CALLBACK_ROLES = (Role.OPERATOR, Role.DISPATCHER, Role.SUPERVISOR)


# ---------------------------------------------------------------- the queue


class QueueQuery(Strict):
    """Paging of the callback queue."""

    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0)


@endpoint("/callbacks", "GET", "The callback queue: reviewed tickets awaiting a callback, "
          "earliest callback deadline first", query=QueueQuery, roles=CALLBACK_ROLES)
def callbacks(actor: Actor, query: QueueQuery) -> dict[str, Any]:
    now = services().clock.now()
    items = callback_queue(db.session, now, limit=query.limit, offset=query.offset)
    views = list_view(db.session, [i.ticket for i in items], actor, now)  # masks, audits
    for item, view in zip(items, views, strict=True):
        view["callback"] |= {"overdue": item.overdue}
        view["department"] = item.department
    total = queue_size(db.session)
    commit()
    return {"items": views, "total": total, "limit": query.limit, "offset": query.offset}


# ---------------------------------------------------------------- SMS replies


class SmsReply(BaseModel):
    """One inbound SMS as the gateway posts it."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    sender: str = Field(alias="from", min_length=1, max_length=32)
    text: str = Field(max_length=1000)
    id: str = Field(min_length=1, max_length=60)

    @field_validator("sender", "text", "id")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        """PostgreSQL cannot store NUL characters."""
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


def _refuse(status: int, code: str, message: str) -> ResponseReturnValue:
    db.session.rollback()
    return error_response(status, code, message)


def _authorised() -> ResponseReturnValue | None:
    token = current_app.config.get("SMS_GATEWAY_TOKEN")
    if not token:
        return _refuse(503, "unavailable",
                       "the SMS gateway is not configured (HOTLINE_SMS_GATEWAY_TOKEN)")
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(),
                                                             str(token).encode()):
        return _refuse(401, "unauthorized", "a valid gateway bearer token is required")
    return None


def _result_of(contact: Contact) -> str:
    if is_answer_note(contact.note):
        return "recorded"
    return "unrecognised" if contact.ticket_id is not None else "no_ticket"


def _seen(external_id: str) -> Contact | None:
    return db.session.scalar(select(Contact).where(Contact.channel == Channel.PHONE,
                                                   Contact.external_id == external_id))


def _phone(raw: str) -> str | None:
    try:
        return normalize_phone(raw, "from")
    except InvalidInput:
        return None


@bp.post(REPLIES)
def sms_reply() -> ResponseReturnValue:
    """A citizen's SMS reply: recorded as the callback answer when it is one."""
    refused = _authorised()
    if refused is not None:
        return refused
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("send the body as application/json")
    body = parse(SmsReply, request.get_data())
    external = SMS_PREFIX + body.id
    seen = _seen(external)
    if seen is not None:
        db.session.rollback()
        return jsonify({"id": body.id, "result": _result_of(seen), "duplicate": True})
    now = services().clock.now()
    outcome = record_citizen_answer(db.session, phone=body.sender, text=body.text,
                                    channel="sms", now=now, directory=SqlDirectory(db.session))
    note = answer_note(body.text) if outcome.recorded else f"短信回复：{body.text.strip()[:200]}"
    record_contact(db.session, channel=Channel.PHONE, kind=ContactKind.FOLLOW_UP,
                   received_at=now, actor_id=None, ticket=outcome.ticket,
                   phone=_phone(body.sender), external_id=external, note=note)
    try:
        commit(outcome.events)
    except IntegrityError:
        # The same reply twice at once: the other request recorded this id first.
        db.session.rollback()
        seen = _seen(external)
        if seen is None:
            raise
        return jsonify({"id": body.id, "result": _result_of(seen), "duplicate": True})
    return jsonify({"id": body.id, "result": outcome.result, "duplicate": False})
