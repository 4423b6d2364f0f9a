"""`perform`: check the action, the role, the version and the state, run the handler, write the
status and the event, then what the action owes (the table of consequences); `open_ticket` for
intake."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.actors import SYSTEM, Actor
from dispatch.core.commands import PAYLOADS, NoPayload, Strict, parse
from dispatch.core.errors import NotFound, StaleVersion
from dispatch.core.models import Assignment, Event, Ticket
from dispatch.core.ports import Directory, IntakePorts
from dispatch.core.vocab import (
    Status,
)
from dispatch.tickets.access import can_see
from dispatch.tickets.clocks import (
    TimeLimits,
    get_time_limits,
)
from dispatch.tickets.lifecycle.assignments import (
    held_assignment,
)
from dispatch.tickets.lifecycle.context import (
    ActionResult,
    Context,
    Step,
)
from dispatch.tickets.lifecycle.delegation import (
    DELEGATION_ACTIONS,
    assignee_offered,
    delegation_offered,
)
from dispatch.tickets.lifecycle.desk import DESK_HANDLERS, auto_dispatched
from dispatch.tickets.lifecycle.dispute import DISPUTE_HANDLERS
from dispatch.tickets.lifecycle.handling import HANDLING_HANDLERS, extension_refusal
from dispatch.tickets.lifecycle.locks import (
    lock_ticket,
)
from dispatch.tickets.lifecycle.patrol import PATROL_HANDLERS
from dispatch.tickets.lifecycle.police import POLICE_HANDLERS, first_receiver_refusal
from dispatch.tickets.lifecycle.suspension import SUSPENSION_ACTIONS, suspension_offered
from dispatch.tickets.lifecycle.table import (
    ASSIGNEE_ACTIONS,
    ASSIGNEES,
    HANDLING_ASSIGNMENT,
    PUBLIC_ACTIONS,
    TABLE,
    S,
    check,
)
from dispatch.tickets.lifecycle.write import (
    follow_up,
    write_change,
)


def perform(
    session: Session,
    ticket: Ticket,
    action: str,
    actor: Actor,
    payload: Any,
    *,
    now: datetime,
    directory: Directory,
    expected_version: int | None = None,
    ports: IntakePorts | None = None,
) -> ActionResult:
    """Take one action of the state table on a ticket; raises a DomainError and writes
    nothing when refused. `ports` locate and route again (relocate, a changed category)."""
    if action not in TABLE or action not in PAYLOADS:
        raise NotFound(f"action: 没有“{action}”这个操作", field="action")
    body = payload if isinstance(payload, Strict) else parse(PAYLOADS[action], payload or {})
    if not can_see(session, actor, ticket):
        raise NotFound(f"工单 {ticket.number} 不存在")
    if expected_version is not None and expected_version != ticket.version:
        raise StaleVersion(
            f"version: 工单 {ticket.number} 已是第 {ticket.version} 版，不是第 "
            f"{expected_version} 版；请刷新后重试",
            field="version",
        )
    check(action, Status(ticket.status), actor.role)
    lock_ticket(session, ticket)
    ctx = Context(session, ticket, actor, body, now, directory, get_time_limits(session),
                  ports or IntakePorts())
    step = HANDLERS[action](ctx)
    write_change(ctx, ticket, action, step, reason=getattr(body, "reason", None))
    follow_up(ctx, ticket)
    # What the action owes others (110, the citizen's questionnaire), in this same transaction:
    # the table of consequences, dispatch/subscribers.py.
    for consequence in _on_action():
        consequence(session, ticket, action, getattr(body, "reason", None), now)
    return ActionResult(ticket, ctx.events)


OnAction = Callable[[Session, Ticket, str, "str | None", datetime], None]


_ON_ACTION: list[OnAction] = []


def set_consequences(handlers: list[OnAction]) -> None:
    """What every action owes others; set once by `dispatch.subscribers.install`."""
    _ON_ACTION[:] = handlers


def _on_action() -> list[OnAction]:
    if not _ON_ACTION:  # acting without them would silently lose what 110 is owed
        raise RuntimeError("dispatch.subscribers.install() must run before tickets are handled")
    return _ON_ACTION


def available_actions(ticket: Ticket, actor: Actor, now: datetime,
                      limits: TimeLimits) -> list[str]:
    """The public actions the state table lets this actor try on this ticket now (what a page
    offers as buttons; `perform` still decides, with the payload). An extension is offered only
    when `request_extension` would not refuse it now (`extension_refusal`)."""
    status = Status(ticket.status)
    held = held_assignment(ticket, actor)
    out = []
    for action in PUBLIC_ACTIONS:
        rule = TABLE[action]
        if actor.role not in rule.roles or status not in rule.from_states:
            continue
        if action in ASSIGNEE_ACTIONS and actor.role in ASSIGNEES:
            below = assignee_offered(action, ticket, actor, held)
            if below is False:
                continue
            if below is None and (held is None or held.status not in ASSIGNEE_ACTIONS[action]):
                continue
        if action in DELEGATION_ACTIONS and not delegation_offered(action, ticket, actor):
            continue
        if action == "decide_lead" and ticket.disputed_at is None:
            continue
        if action in ("approve_extension", "refuse_extension") and not any(
                x.status == "pending" for x in ticket.extensions):
            continue
        if action == "transfer_110" and first_receiver_refusal(ticket, actor.role, "—"):
            continue
        if action == "acknowledge_alarm" and (ticket.alarm_raised_at is None
                                              or ticket.alarm_acknowledged_at is not None):
            continue
        if action == "take_back" and not auto_dispatched(ticket):
            continue
        if action == "request_extension" and (held is None or extension_refusal(
                ticket, held, now, limits.max_extensions) is not None):
            continue
        if action in SUSPENSION_ACTIONS and not suspension_offered(action, ticket, held, now):
            continue
        out.append(action)
    return out


def open_ticket(session: Session, ticket: Ticket, actor: Actor, now: datetime,
                payload: dict[str, Any]) -> Event:
    """Give a new ticket its first state and its intake event."""
    ticket.status = S.NEW
    ticket.created_at = ticket.updated_at = now
    # It has no assignments, extensions or merged repeats yet: known now, never asked later.
    ticket.assignments, ticket.extensions, ticket.children = [], [], []
    ticket.suspensions = []
    ticket.delegations = []
    event = Event(ticket=ticket, at=now, actor_id=actor.id, actor_role=actor.role,
                  action="intake", from_status=None, to_status=S.NEW, payload=payload)
    session.add(ticket)
    session.add(event)
    return event


def recompute_provisional_deadlines(session: Session, now: datetime,
                                    directory: Directory) -> list[Event]:
    """After the calendar changed: recompute every open deadline that was provisional."""
    tickets = session.scalars(select(Ticket).where(Ticket.id.in_(
        select(Assignment.ticket_id).where(
            Assignment.deadline_provisional.is_(True),
            Assignment.status.in_(HANDLING_ASSIGNMENT))
    )).order_by(Ticket.id)).all()
    events: list[Event] = []
    for ticket in tickets:
        events += perform(session, ticket, "recompute_deadlines", SYSTEM, NoPayload(),
                          now=now, directory=directory).events
    return events


HANDLERS: dict[str, Callable[[Context], Step]] = (DESK_HANDLERS | POLICE_HANDLERS
                                                  | HANDLING_HANDLERS | DISPUTE_HANDLERS
                                                  | PATROL_HANDLERS)
