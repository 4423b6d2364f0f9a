"""一键转接 and 三方通话 during a call (DOMAIN.md, Calls): a command to the call centre, owed
through the outbox (sent at once when the centre answers, retried with back-off when it is
down), and an event on the call's ticket; the centre's `transferred` event confirms it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.calls.access import get_call
from dispatch.calls.events import ANSWERED, TRANSFERRED
from dispatch.calls.models import Call
from dispatch.core.actors import Actor
from dispatch.core.commands import CallTransferPayload, Strict, parse
from dispatch.core.errors import Conflict
from dispatch.core.models import Event, Ticket
from dispatch.core.ports import Directory
from dispatch.outbound import outbox
from dispatch.tickets.lifecycle import perform

TOPIC = "cti.transfer"
MODES: dict[str, Literal["one_key", "three_party"]] = {"blind": "one_key",
                                                     "three_way": "three_party"}


class TransferRequest(Strict):
    """A transfer of the call in progress: to whom (110 by default), blind or three-way."""

    to: Annotated[str, StringConstraints(strip_whitespace=True,
                                         pattern=r"^[0-9*#]{1,20}$")] = "110"
    mode: Literal["blind", "three_way"] = "blind"
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = \
        Field(None, description="recorded on the ticket")


@dataclass(frozen=True)
class TransferOwed:
    """The call, the outbox row of its command, and the ticket events it wrote."""

    call: Call
    outbox_key: str
    events: tuple[Event, ...]


def request_transfer(session: Session, call_id: str, data: object, actor: Actor,
                     now: datetime, directory: Directory) -> TransferOwed:
    """Owe the call centre a transfer of this call (refused unless it is answered and not
    yet transferred); recorded on the call's ticket when there is one."""
    body = data if isinstance(data, TransferRequest) else parse(TransferRequest, data)
    call = get_call(session, call_id, actor)
    if call.state == TRANSFERRED or call.transfer_requested_at is not None:
        to = call.transfer_requested_to or call.transfer_to
        raise Conflict(f"通话 {call.call_id} 已发出转接指令（转 {to}），请勿重复",
                       field="call_id")
    if call.state != ANSWERED:
        raise Conflict(f"通话 {call.call_id} 当前为“{{state}}”，不在通话中，不能转接",
                       field="call_id",
                       terms={"state": ("call_state", call.state)})
    key = f"{TOPIC}:{call.call_id}"
    outbox.enqueue(session, TOPIC, {"call_id": call.call_id, "to": body.to,
                                    "mode": body.mode},
                   key=key, ticket_id=call.ticket_id, now=now)
    call.transfer_requested_at, call.transfer_requested_to = now, body.to
    call.transfer_mode, call.updated_at = body.mode, now
    events: tuple[Event, ...] = ()
    ticket = session.get(Ticket, call.ticket_id) if call.ticket_id else None
    if ticket is not None:
        reason = body.reason or f"通话 {call.call_id} 转接"
        result = perform(session, ticket, "call_transfer", actor,
                         CallTransferPayload(kind=MODES[body.mode], to=body.to, reason=reason),
                         now=now, directory=directory)
        events = tuple(result.events)
    session.flush()
    return TransferOwed(call, key, events)


def command_state(session: Session, key: str) -> tuple[str, str | None]:
    """Where a transfer command stands: `sent`, `queued` (with the last error) or `failed`."""
    row = session.scalar(select(outbox.OutboxMessage).where(outbox.OutboxMessage.dedupe_key == key))
    if row is None:
        return "queued", None
    if row.delivered_at is not None:
        return "sent", None
    return ("failed" if row.dead else "queued"), row.last_error
