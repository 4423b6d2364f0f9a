"""The transition table of DOMAIN.md and the one writer of ticket and assignment status.

Every change of a ticket goes through `perform` (or `open_ticket` for intake): it checks the
action, the role, the client's version and the current state, applies the action and appends
the event. Nothing else in the project assigns a status.

The package: `table` (the transition table), `perform` (the entry), `write` (the one place a
ticket's status is written), `desk` and `handling` (the actions' handlers), `assignments`,
`locks`, `context`."""

from __future__ import annotations

from dispatch.core.actors import SYSTEM, Actor
from dispatch.tickets.lifecycle.assignments import (
    is_open,
    lead_assignment,
    needs_callback,
    own_assignment,
)
from dispatch.tickets.lifecycle.context import (
    ActionResult,
    Context,
    Step,
)
from dispatch.tickets.lifecycle.desk import (
    auto_dispatched,
    ticket_location,
)
from dispatch.tickets.lifecycle.locks import (
    lock_ticket,
    locks_released,
)
from dispatch.tickets.lifecycle.perform import (
    HANDLERS,
    OnAction,
    available_actions,
    open_ticket,
    perform,
    recompute_provisional_deadlines,
    set_consequences,
)
from dispatch.tickets.lifecycle.perform import (
    _on_action as consequences,  # what every action owes others, for the sweep's batches
)
from dispatch.tickets.lifecycle.police import (
    SUPERVISOR_ONLY_AFTER_REJECTION,
    first_receiver_refusal,
)
from dispatch.tickets.lifecycle.table import (
    ASSIGNEE_ACTIONS,
    ASSIGNEES,
    HANDLING,
    HANDLING_ASSIGNMENT,
    PUBLIC_ACTIONS,
    SAME,
    SYSTEM_ACTIONS,
    TABLE,
    R,
    Rule,
    S,
    check,
)

__all__ = [
    "ASSIGNEES",
    "ASSIGNEE_ACTIONS",
    "ActionResult",
    "Actor",
    "Context",
    "HANDLERS",
    "HANDLING",
    "HANDLING_ASSIGNMENT",
    "OnAction",
    "PUBLIC_ACTIONS",
    "R",
    "Rule",
    "S",
    "SAME",
    "SUPERVISOR_ONLY_AFTER_REJECTION",
    "SYSTEM",
    "SYSTEM_ACTIONS",
    "Step",
    "TABLE",
    "auto_dispatched",
    "available_actions",
    "check",
    "consequences",
    "first_receiver_refusal",
    "is_open",
    "lead_assignment",
    "lock_ticket",
    "locks_released",
    "needs_callback",
    "open_ticket",
    "own_assignment",
    "perform",
    "recompute_provisional_deadlines",
    "set_consequences",
    "ticket_location",
]
