"""What the domain needs from outside, named as small protocols, with simple implementations."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from dispatch.core.db import utcnow

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


# ---------------------------------------------------------------- intake ports


@dataclass(frozen=True)
class Suggestion:
    """What the classifier proposes for fields the caller left out."""

    type: str | None = None
    category: str | None = None
    urgency: str | None = None
    police_matter: bool = False
    reasons: tuple[str, ...] = ()
    # Added with the learned model (all optional; older callers ignore them): each field's
    # confidence 0–1 (type, category, urgency, police_matter), whether it is an emergency
    # (police matter or critical), which classifier spoke (a model version such as "v3", or
    # "rules") and the notes that ask the operator to look again ("疑似涉警，请确认").
    confidence: dict[str, float] = field(default_factory=dict)
    emergency: bool = False
    model: str = "rules"
    doubts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Location:
    """Where the demand is: a WGS-84 point and its grid cell and areas, with flags and why."""

    lon: float | None
    lat: float | None
    address: str | None
    cell: str | None = None
    community: str | None = None
    street: str | None = None
    grid_version: int | None = None
    flags: tuple[str, ...] = ()
    district: str | None = None
    # How the point was found: "point" (given), or the geocoder's precision for an address.
    precision: str | None = None
    reasons: tuple[str, ...] = ()

    def areas(self) -> list[str]:
        """The location's areas, most specific first (for the dispatch catalogue)."""
        return [a for a in (self.cell, self.community, self.street, self.district) if a]


@dataclass(frozen=True)
class Routing:
    """The proposed lead, co-handlers and grid worker, with the rule and reasons."""

    lead: str | None = None
    co_handlers: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    grid_worker: str | None = None
    on_site: bool = False
    rule: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form, stored on the ticket."""
        return {"lead": self.lead, "co_handlers": list(self.co_handlers),
                "reasons": list(self.reasons), "grid_worker": self.grid_worker,
                "on_site": self.on_site, "rule": self.rule}


class Classifier(Protocol):
    def suggest(self, text: str) -> Suggestion:
        """Type, category, urgency and police-matter suggestions for a demand text."""
        ...


class Locator(Protocol):
    def locate(self, lon: float | None, lat: float | None, crs: str,
               address: str | None) -> Location:
        """The grid cell and areas of a point or address."""
        ...


class Router(Protocol):
    def route(self, category: str | None, location: Location) -> Routing:
        """Lead department and co-handlers, with why."""
        ...


class NoClassifier:
    """No suggestions: the operator's choices stand alone."""

    def suggest(self, text: str) -> Suggestion:
        return Suggestion()


class NoGrid:
    """No grid loaded: the point and address are kept as given; no routing is proposed."""

    def locate(self, lon: float | None, lat: float | None, crs: str,
               address: str | None) -> Location:
        return Location(lon, lat, address, flags=("no_grid",),
                        reasons=("未导入网格：无法定位网格",))

    def route(self, category: str | None, location: Location) -> Routing:
        return Routing(reasons=("未导入网格：请派单员选择主办部门",))


@dataclass(frozen=True)
class IntakePorts:
    classifier: Classifier = field(default_factory=NoClassifier)
    locator: Locator = field(default_factory=NoGrid)
    router: Router = field(default_factory=NoGrid)
    # Act on the judgement at intake (alarm on an unattended channel, automatic 110 transfer,
    # automatic dispatch) as the triage settings say; off for writers of the past (simulation).
    respond: bool = False
    directory: Directory | None = None
