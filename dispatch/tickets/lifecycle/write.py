"""The one place a ticket's status and its event are written (`write_change`), and what follows a
change by itself (`follow_up`)."""

from __future__ import annotations

from sqlalchemy.orm.attributes import flag_modified

from dispatch.core.actors import SYSTEM, Actor
from dispatch.core.models import Event, Ticket
from dispatch.core.vocab import (
    CLOSED_STATES,
    Outcome,
)
from dispatch.tickets.lifecycle.assignments import (
    needs_callback,
)
from dispatch.tickets.lifecycle.context import (
    Context,
    Step,
)
from dispatch.tickets.lifecycle.table import (
    TABLE,
    S,
)


def write_change(ctx: Context, ticket: Ticket, action: str, step: Step, *, reason: str | None,
           actor: Actor | None = None) -> None:
    actor = actor or ctx.actor
    rule = TABLE[action]
    if step.to not in rule.to_states:  # a handler bug, never a user error
        raise AssertionError(f"{action} may not lead to {step.to}")
    before = ticket.status
    after = step.to or before
    ticket.status = after
    ticket.updated_at = ctx.now  # always dirty: the version check runs on every action
    flag_modified(ticket, "updated_at")  # even when `now` equals the last update
    if step.outcome is not None:
        ticket.outcome = step.outcome
    if after in CLOSED_STATES and before not in CLOSED_STATES:
        ticket.closed_at = ctx.now
    event = Event(ticket=ticket, at=ctx.now, actor_id=actor.id, actor_role=actor.role,
                  action=action, from_status=before, to_status=after, reason=reason,
                  payload=step.payload)
    ctx.session.add(event)
    ctx.events.append(event)


def follow_up(ctx: Context, ticket: Ticket) -> None:
    """What the system does at once after some transitions."""
    if ticket.status == S.REVIEWED and not needs_callback(ticket):
        write_change(ctx, ticket, "close_without_callback",
               Step(S.ARCHIVED, {"why": "anonymous or no way to reach the citizen"},
                    Outcome.NO_CALLBACK),
               reason=None, actor=SYSTEM)
    if ticket.status == S.ARCHIVED:
        for child in ticket.children:
            if child.status == S.MERGED:
                write_change(ctx, child, "follow_parent",
                       Step(S.ARCHIVED, {"parent": ticket.number}, Outcome.WITH_PARENT),
                       reason=None, actor=SYSTEM)
