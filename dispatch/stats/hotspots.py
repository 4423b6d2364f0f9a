"""Emerging hotspots (未诉先办): places where similar demands cluster right now, so that leaders
and dispatchers act before more calls come.

A hotspot is at least `min_count` tickets of one category (cut to `category_level` levels:
占道经营 and 流动摊贩 are both 市容市貌) created within the last `window` before `now`, all
within `radius_m` metres of one of them (the hotspot's centre). Void tickets (pranks, tests)
are left out; merged repeats count, since each is a citizen who called.

How clusters are found, per category: every ticket's neighbours within the radius are counted
among the tickets not yet in a hotspot; the ticket with the most (ties: the latest, then the
highest id) becomes a centre, it and its neighbours a hotspot, and they are taken out; this
repeats while some ticket still has enough neighbours. A hotspot therefore spans at most twice
the radius and a ticket belongs to one hotspot at most (unlike DBSCAN, clusters cannot chain
across a whole street).

Distances: a local equirectangular projection at the mean latitude of the tickets read, with
the WGS-84 metres per degree there (the same formulas as `grid.locator`, which the domain may
not import). Over a county the scale error is a fraction of a percent, well inside what
"500 m" means. Ticket points are stored in WGS-84 (intake converts GCJ-02 and BD-09), so no
datum shift is involved. Neighbours are found through square buckets of the radius's size,
so a busy two hours costs about linear time.

Runs on SQLite and PostgreSQL alike: one plain query for the window's tickets, the geometry in
Python.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from dispatch.core.errors import InvalidInput
from dispatch.core.models import Ticket
from dispatch.core.vocab import OPEN_STATES, Status


@dataclass(frozen=True)
class HotspotRules:
    """What makes a hotspot: how many similar demands, how close, how recent."""

    min_count: int = 5
    radius_m: float = 500.0
    window: timedelta = timedelta(hours=2)
    category_level: int = 2  # "similar": the same category cut to this many levels
    max_tickets: int = 20_000  # the most tickets one look reads (newest first)

    def __post_init__(self) -> None:
        if not 2 <= self.min_count <= 1000:
            raise InvalidInput("min_count: 须在 2 到 1000 之间", field="min_count")
        if not 10 <= self.radius_m <= 20_000:
            raise InvalidInput("radius_m: 须在 10 到 20000 米之间", field="radius_m")
        if not timedelta(minutes=5) <= self.window <= timedelta(days=31):
            raise InvalidInput("window: 须在 5 分钟到 31 天之间", field="window")
        if not 1 <= self.category_level <= 5:
            raise InvalidInput("category_level: 须在 1 到 5 之间", field="category_level")
        if self.max_tickets < 1:
            raise InvalidInput("max_tickets: 至少为 1", field="max_tickets")


@dataclass(frozen=True)
class HotspotTicket:
    """One demand of a hotspot."""

    id: int
    number: str
    status: str
    category: str
    created_at: datetime
    lon: float
    lat: float
    street: str | None
    community: str | None
    cell: str | None
    distance_m: float  # from the hotspot's centre

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"number": self.number, "status": self.status, "category": self.category,
                "created_at": self.created_at.isoformat(), "lon": self.lon, "lat": self.lat,
                "street": self.street, "community": self.community, "cell": self.cell,
                "distance_m": self.distance_m}


@dataclass(frozen=True)
class Hotspot:
    """Similar demands clustered around a centre (one of them)."""

    category: str  # the category code cut to the rules' level
    lon: float
    lat: float
    radius_m: float  # the farthest member from the centre
    first_at: datetime
    last_at: datetime
    street: str | None  # where most of the members are (ties: the smallest code)
    community: str | None
    cell: str | None
    centre: str  # the centre ticket's number
    tickets: tuple[HotspotTicket, ...]  # oldest first

    @property
    def count(self) -> int:
        """How many demands."""
        return len(self.tickets)

    @property
    def open_count(self) -> int:
        """How many of them are still being handled (not archived, void or merged)."""
        return sum(1 for t in self.tickets if t.status in OPEN_STATES)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"category": self.category, "count": self.count, "open": self.open_count,
                "lon": self.lon, "lat": self.lat, "radius_m": self.radius_m,
                "first_at": self.first_at.isoformat(), "last_at": self.last_at.isoformat(),
                "street": self.street, "community": self.community, "cell": self.cell,
                "centre": self.centre, "tickets": [t.as_dict() for t in self.tickets]}


def category_group(code: str, level: int) -> str:
    """A category code cut to `level` levels (a shorter code stays as it is)."""
    return ".".join(code.split(".")[:level])


def metres_per_degree(lat: float) -> tuple[float, float]:
    """Metres per degree of longitude and of latitude on the WGS-84 ellipsoid at `lat`."""
    phi = math.radians(lat)
    ky = 111132.92 - 559.82 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)
    kx = 111412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi)
    return kx, ky


def _category_filter(code: str) -> Any:
    escaped = code.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(Ticket.category_code == code,
               Ticket.category_code.like(escaped + ".%", escape="\\"))


def recent_tickets(session: Session, now: datetime, rules: HotspotRules, *,
                   category: str | None = None, street: str | None = None) -> list[Any]:
    """The placed, categorised, non-void tickets created in the window before `now`."""
    query = (select(Ticket.id, Ticket.number, Ticket.status, Ticket.category_code,
                    Ticket.created_at, Ticket.lon, Ticket.lat, Ticket.street_code,
                    Ticket.community_code, Ticket.cell_code)
             .where(Ticket.created_at > now - rules.window, Ticket.created_at <= now,
                    Ticket.lon.is_not(None), Ticket.lat.is_not(None),
                    Ticket.category_code.is_not(None), Ticket.status != Status.VOID)
             .order_by(Ticket.created_at.desc(), Ticket.id.desc())
             .limit(rules.max_tickets))
    if category is not None:
        query = query.where(_category_filter(category))
    if street is not None:
        query = query.where(Ticket.street_code == street)
    return list(session.execute(query))


def _most_common(values: Iterable[str | None]) -> str | None:
    counts = Counter(v for v in values if v)
    if not counts:
        return None
    return min(counts, key=lambda v: (-counts[v], v))


def clusters(points: Sequence[tuple[float, float]], order: Sequence[tuple[Any, ...]],
             radius_m: float, min_count: int) -> list[tuple[int, list[int]]]:
    """Greedy clusters of planar points (metres): (centre, members) with at least `min_count`
    members within `radius_m` of the centre, each point in one cluster at most. `order` ranks
    the candidates of equal neighbour counts (highest first)."""
    r2 = radius_m * radius_m
    buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, (x, y) in enumerate(points):
        buckets[(math.floor(x / radius_m), math.floor(y / radius_m))].append(i)
    neighbours: list[list[int]] = []
    for x, y in points:
        bx, by = math.floor(x / radius_m), math.floor(y / radius_m)
        near = [j for dx in (-1, 0, 1) for dy in (-1, 0, 1)
                for j in buckets.get((bx + dx, by + dy), ())
                if (points[j][0] - x) ** 2 + (points[j][1] - y) ** 2 <= r2]
        neighbours.append(near)
    taken = [False] * len(points)
    found: list[tuple[int, list[int]]] = []
    while True:
        best = -1
        best_members: list[int] = []
        for i in range(len(points)):
            if taken[i]:
                continue
            members = [j for j in neighbours[i] if not taken[j]]
            if len(members) < min_count:
                continue
            if (best < 0 or len(members) > len(best_members)
                    or (len(members) == len(best_members) and order[i] > order[best])):
                best, best_members = i, members
        if best < 0:
            return found
        for j in best_members:
            taken[j] = True
        found.append((best, sorted(best_members)))


def find_hotspots(session: Session, now: datetime, rules: HotspotRules | None = None, *,
                  category: str | None = None, street: str | None = None) -> list[Hotspot]:
    """The emerging hotspots at `now`, the biggest (then the latest) first; `category` takes
    its subtree, `street` the tickets located in that street."""
    rules = rules or HotspotRules()
    rows = recent_tickets(session, now, rules, category=category, street=street)
    if not rows:
        return []
    kx, ky = metres_per_degree(sum(r.lat for r in rows) / len(rows))
    groups: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        groups[category_group(r.category_code, rules.category_level)].append(r)
    hotspots: list[Hotspot] = []
    for group, members in groups.items():
        points = [(r.lon * kx, r.lat * ky) for r in members]
        order = [(r.created_at, r.id) for r in members]
        for centre, chosen in clusters(points, order, rules.radius_m, rules.min_count):
            c = members[centre]
            cx, cy = points[centre]
            tickets = sorted(
                (HotspotTicket(
                    r.id, r.number, r.status, r.category_code, r.created_at, r.lon, r.lat,
                    r.street_code, r.community_code, r.cell_code,
                    round(math.hypot(points[j][0] - cx, points[j][1] - cy), 1))
                 for j in chosen for r in (members[j],)),
                key=lambda t: (t.created_at, t.id))
            hotspots.append(Hotspot(
                category=group, lon=c.lon, lat=c.lat,
                radius_m=max(t.distance_m for t in tickets),
                first_at=tickets[0].created_at, last_at=tickets[-1].created_at,
                street=_most_common(t.street for t in tickets),
                community=_most_common(t.community for t in tickets),
                cell=_most_common(t.cell for t in tickets),
                centre=c.number, tickets=tuple(tickets)))
    hotspots.sort(key=lambda h: (-h.count, -h.last_at.timestamp(), h.category, h.centre))
    return hotspots


__all__ = ["HotspotRules", "Hotspot", "HotspotTicket", "find_hotspots", "clusters",
           "category_group", "metres_per_degree", "recent_tickets"]
