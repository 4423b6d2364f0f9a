"""What the domain needs from outside, named as small protocols, with simple implementations."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from dispatch.db import utcnow

_log = logging.getLogger("hotline.events")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, UTC, aware."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return utcnow()


@dataclass
class ManualClock:
    """A clock that moves only when told to (tests, simulation)."""

    current: datetime

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> datetime:
        """Move forward by a `timedelta(**kwargs)` and return the new time."""
        self.current += timedelta(**kwargs)
        return self.current


@dataclass(frozen=True)
class DepartmentRef:
    """What the domain needs to know about a department."""

    code: str
    name: str
    kind: str
    street_code: str | None
    active: bool


class Directory(Protocol):
    def department(self, code: str) -> DepartmentRef | None:
        """The department with this code, or None."""
        ...


@dataclass(frozen=True)
class PublishedEvent:
    """A committed ticket event, as the console and workers hear of it."""

    event_id: int
    ticket_id: int
    number: str
    action: str
    from_status: str | None
    to_status: str


class Publisher(Protocol):
    def publish(self, events: Sequence[PublishedEvent]) -> None:
        """Hand over events after their transaction committed."""
        ...


class LogPublisher:
    """Writes events to the log: the default until the console and workers subscribe."""

    def publish(self, events: Sequence[PublishedEvent]) -> None:
        for e in events:
            _log.info("ticket %s: %s %s -> %s (event %d)", e.number, e.action, e.from_status,
                      e.to_status, e.event_id)


@dataclass
class RecordingPublisher:
    """Keeps what was published (embedded mode before the console exists, and tests)."""

    published: list[PublishedEvent] = field(default_factory=list)

    def publish(self, events: Sequence[PublishedEvent]) -> None:
        self.published.extend(events)
