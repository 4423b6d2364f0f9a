"""What an action's handler is given (`Context`) and gives back (`Step`), and what `perform`
returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dispatch.core.actors import Actor
from dispatch.core.models import Event, Ticket
from dispatch.core.ports import Directory, IntakePorts
from dispatch.core.vocab import (
    Outcome,
    Status,
)
from dispatch.tickets.clocks import (
    TimeLimits,
)


@dataclass
class Context:
    """What an action handler works with."""

    session: Session
    ticket: Ticket
    actor: Actor
    payload: Any
    now: datetime
    directory: Directory
    limits: TimeLimits
    ports: IntakePorts = field(default_factory=IntakePorts)
    events: list[Event] = field(default_factory=list)


@dataclass(frozen=True)
class Step:
    """What a handler decided: the target state (None: unchanged) and what the event says."""

    to: Status | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    outcome: Outcome | None = None


@dataclass(frozen=True)
class ActionResult:
    ticket: Ticket
    events: list[Event]
