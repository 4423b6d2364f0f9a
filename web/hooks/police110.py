"""The 110 police desk endpoints (CONTRACT.md): `POST /hooks/police110/transfers` and
`POST /hooks/police110/acks`, and the delivery of what we owe the desk from the outbox.

A request is verified (key, signature, time window) and its nonce recorded in the same
transaction as what it writes: a refused request writes nothing, not even its nonce, so the
desk may send a corrected request under a fresh signature and a replayed one is refused again.
An incident number is a ticket's external reference: the same transfer twice gives the same
ticket; the same ack twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge

from dispatch.core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from dispatch.core.models import Ticket
from dispatch.core.vocab import Role
from dispatch.intake.pipeline import intake
from dispatch.outbound.police import remember_nonce
from dispatch.tickets.access import can_see
from dispatch.tickets.lifecycle import Actor, perform
from grid.directory import SqlDirectory
from integrations.police110 import mapping
from integrations.police110.client import DeskClient, desk_client_from_config
from integrations.police110.inbound import (
    PoliceError,
    SignedBy,
    load_keys,
    read_ack,
    read_transfer,
    verify,
)
from web.api.base import commit
from web.extensions import db
from web.hooks.refusals import refuse as _refuse
from web.i18n import t
from web.services import services

bp = Blueprint("police110", __name__)

HOOKS = "/hooks/police110"
T = TypeVar("T")
# The desk is a machine client: it opens tickets (its transfers) and answers ours.
POLICE_DESK = Actor(None, Role.POLICE_DESK, username="police110")
UNCONFIGURED = "110 报警服务台接入尚未配置（HOTLINE_POLICE110_KEYS）"


def desk_keys() -> dict[str, str] | None:
    """Key id → secret from the app config (or HOTLINE_POLICE110_KEYS); None when unset."""
    return load_keys(current_app.config.get("POLICE110_KEYS"))


def _domain_refusal(exc: DomainError) -> Response:
    # The desk's values are at fault (422) or the ticket's state no longer allows it (409).
    message = exc.translated(t)
    if isinstance(exc, NotFound):
        return _refuse(404, message, exc.field, exc.code)
    if isinstance(exc, Conflict | Forbidden):
        return _refuse(409, message, exc.field, Conflict.code)
    if isinstance(exc, InvalidInput):
        return _refuse(422, message, exc.field, "invalid")
    return _refuse(400, message, exc.field, exc.code)


def _read(now: datetime, reader: Callable[[bytes, str | None], T]
          ) -> tuple[T, SignedBy] | Response:
    """The parsed body and signer of a request whose nonce is now recorded, or the refusal."""
    keys = desk_keys()
    if keys is None:
        return _refuse(503, UNCONFIGURED, code="unavailable")
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        return _refuse(413, "请求内容超过 64 KiB 上限")
    try:
        signed = verify(keys, request.headers, body, now.timestamp())
    except PoliceError as exc:
        return _refuse(exc.http_status, exc.message, exc.field)
    if not remember_nonce(db.session, signed.key_id, signed.nonce, now):
        return _refuse(401, "X-Hotline-Nonce：10 分钟内已使用过，可能是重放的请求",
                       "X-Hotline-Nonce")
    try:
        return reader(body, request.content_type), signed
    except PoliceError as exc:
        return _refuse(exc.http_status, exc.message, exc.field)


def _by_incident(incident_no: str) -> Ticket | None:
    return db.session.scalar(select(Ticket).where(Ticket.external_ref == incident_no))


@bp.post(HOOKS + "/transfers")
def receive_transfer() -> ResponseReturnValue:
    """A non-police matter from 110: a ticket (202), or the same ticket again (200)."""
    now = services().clock.now()
    read = _read(now, read_transfer)
    if isinstance(read, Response):
        return read
    transfer, signed = read
    seen = _by_incident(transfer.incident_no)
    if seen is not None:
        commit()  # the nonce
        return mapping.receipt(seen.number), 200
    try:
        result = intake(db.session, mapping.intake_data(transfer), POLICE_DESK, now=now,
                        ports=services().intake_ports(db.session, now),
                        external_ref=transfer.incident_no,
                        contact_external_id=transfer.incident_no)
        number = result.ticket.number
        commit([result.event])
    except DomainError as exc:
        return _domain_refusal(exc)
    except IntegrityError:
        # The same transfer twice at once: the other request made the ticket first.
        db.session.rollback()
        seen = _by_incident(transfer.incident_no)
        if seen is None:
            raise
        remember_nonce(db.session, signed.key_id, signed.nonce, now)
        number = seen.number
        commit()
        return mapping.receipt(number), 200
    return mapping.receipt(number), 202


@bp.post(HOOKS + "/acks")
def receive_ack() -> ResponseReturnValue:
    """110's answer about one of our transfers: accepted, rejected (with cause), completed."""
    now = services().clock.now()
    read = _read(now, read_ack)
    if isinstance(read, Response):
        return read
    ack, _ = read
    ticket = db.session.scalar(select(Ticket).where(Ticket.number == ack.ticket_no))
    if ticket is None or not can_see(db.session, POLICE_DESK, ticket):
        return _refuse(404, f"ticket_no: 没有编号为“{ack.ticket_no}”的工单", "ticket_no")
    if mapping.already_applied(ack, ticket.police_state, ticket.police_cause):
        status = ticket.status
        commit()  # the nonce
        return mapping.receipt(ack.ticket_no, status=status), 200
    action, payload = mapping.ack_action(ack)
    try:
        result = perform(db.session, ticket, action, POLICE_DESK, payload, now=now,
                         directory=SqlDirectory(db.session))
        status = result.ticket.status
        commit(result.events)
    except DomainError as exc:
        return _domain_refusal(exc)
    return mapping.receipt(ack.ticket_no, status=status), 202


# ---------------------------------------------------------------- outbound delivery


def desk_client(config: dict[str, Any] | None = None) -> DeskClient | None:
    """The client of the configured desk (None while unset)."""
    return desk_client_from_config(config if config is not None else current_app.config)


__all__ = ["bp", "desk_client", "desk_keys"]
