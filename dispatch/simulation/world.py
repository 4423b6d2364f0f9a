"""The county a simulation runs in: its places (a port: points inside the cells, by street), its
staff (operators, dispatchers, each department's handlers, the grid workers; handlers added
where a department has none), its category tree and street offices; and the actors of the
channels without a person at intake."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.models import (
    Category,
    User,
)
from dispatch.core.ports import DepartmentRef, IntakePorts
from dispatch.core.vocab import (
    Role,
)
from dispatch.simulation.parameters import TERRITORIAL
from dispatch.tickets.access import DEPARTMENTS
from dispatch.tickets.lifecycle import Actor

# The channel adapters' actors, as `web/` defines them for its hooks.
WECHAT_ACTOR = Actor(None, Role.SYSTEM, username="wechat")
OPEN311_ACTOR = Actor(None, Role.SYSTEM, None, "open311")
WEB_ACTOR = Actor(None, Role.SYSTEM, username="web")
POLICE_DESK = Actor(None, Role.POLICE_DESK, username="police110")


@dataclass(frozen=True)
class Spot:
    """A place of a demand: a WGS-84 point inside a cell, its street and how a citizen names
    it."""

    lon: float
    lat: float
    street: str
    address: str


class Places(Protocol):
    def streets(self) -> Sequence[str]:
        """The streets (街道/乡镇) of the county, by code."""
        ...

    def spot(self, street: str, rng: random.Random) -> Spot:
        """A random point inside one of the street's cells."""
        ...


@dataclass(frozen=True)
class Staff:
    """Who does the work: the county's users, as the domain sees them."""

    operators: tuple[Actor, ...]
    dispatchers: tuple[Actor, ...]
    handlers: Mapping[str, tuple[Actor, ...]]  # department → its handlers
    workers: Mapping[int, Actor]  # grid worker's user id → actor
    supervisors: tuple[Actor, ...] = ()  # the hotline office: 定责, publication, appeals


@dataclass(frozen=True)
class World:
    """The county: places, staff, the category tree and the street offices."""

    places: Places
    staff: Staff
    leaves: Mapping[str, tuple[str, ...]]  # top-level category → its leaf categories
    offices: Mapping[str, str]  # street → its territorial office (a department)
    fallback_lead: str  # the lead when neither the routing nor a street office gives one
    # The levels below the street offices (下派): office → its active communities and
    # villages; office → the grid workers of its subtree (user ids).
    below: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    crew: Mapping[str, tuple[int, ...]] = field(default_factory=dict)


PortsFactory = Callable[[Session, datetime], IntakePorts]


class SimulationError(RuntimeError):
    """The domain refused a simulated action: a bug of the simulation, not of the history."""


def load_staff(session: Session) -> Staff:
    """The active operators, dispatchers, handlers and grid workers."""
    users = session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)).all()

    def actors(role: str) -> tuple[Actor, ...]:
        return tuple(_actor(u) for u in users if u.role == role)

    handlers: dict[str, list[Actor]] = {}
    for u in users:
        if u.role == Role.HANDLER and u.department_code:
            handlers.setdefault(u.department_code, []).append(_actor(u))
    return Staff(
        actors(Role.OPERATOR),
        actors(Role.DISPATCHER),
        MappingProxyType({k: tuple(v) for k, v in handlers.items()}),
        MappingProxyType({u.id: _actor(u) for u in users if u.role == Role.GRID_WORKER}),
        actors(Role.SUPERVISOR),
    )


def _actor(user: User) -> Actor:
    return Actor(user.id, Role(user.role), user.department_code, user.username)


def handler_username(department: str) -> str:
    """The username of the handler the simulation adds for a department that has none."""
    return f"handler_{department}"[:40]


def ensure_handlers(
    session: Session, departments: Sequence[DepartmentRef], password_hash: str
) -> list[str]:
    """Give every active department without an active handler one demo handler (the demo
    county ships with handlers for two departments only); the usernames added."""
    staffed = set(
        session.scalars(
            select(User.department_code).where(User.role == Role.HANDLER, User.active.is_(True))
        )
    )
    taken = set(session.scalars(select(User.username)))
    added = []
    for dept in departments:
        name = handler_username(dept.code)
        if not dept.active or dept.code in staffed or name in taken:
            continue
        session.add(
            User(
                username=name,
                display_name=f"{dept.name}承办人",
                role=Role.HANDLER,
                department_code=dept.code,
                password_hash=password_hash,
                active=True,
                demo=True,
            )
        )
        added.append(name)
    session.flush()
    return added


def category_leaves(session: Session) -> dict[str, tuple[str, ...]]:
    """Each active top-level category with its active leaves (itself when it has none)."""
    rows = session.execute(
        select(Category.code, Category.parent_code)
        .where(Category.active.is_(True))
        .order_by(Category.code)
    ).all()
    parent: dict[str, str | None] = {code: p for code, p in rows}
    has_children = {p for _, p in rows if p is not None}
    leaves: dict[str, list[str]] = {code: [] for code, p in rows if p is None}
    for code, _ in rows:
        if code in has_children:
            continue
        top = code
        while parent.get(top) is not None:
            top = parent[top]
        if top in leaves:
            leaves[top].append(code)
    return {top: tuple(found or [top]) for top, found in leaves.items()}


def build_world(
    session: Session,
    places: Places,
    departments: Sequence[DepartmentRef],
    fallback_lead: str = "government_services_big_data",
) -> World:
    """The world a simulation runs in, read from the database and the places port."""
    offices = {
        d.street_code: d.code
        for d in departments
        if d.kind == TERRITORIAL and d.street_code and d.active
    }
    staff = load_staff(session)
    below, crew = levels(session, set(offices.values()), staff)
    return World(
        places,
        staff,
        MappingProxyType(category_leaves(session)),
        MappingProxyType(offices),
        fallback_lead,
        below,
        crew,
    )


def levels(
    session: Session, offices: set[str], staff: Staff
) -> tuple[Mapping[str, tuple[str, ...]], Mapping[str, tuple[int, ...]]]:
    """Each street office's active communities and villages that have a handler, and the grid
    workers of its subtree (its own and its communities')."""
    rows = session.execute(
        select(DEPARTMENTS.c.code, DEPARTMENTS.c.parent_code)
        .where(DEPARTMENTS.c.active.is_(True), DEPARTMENTS.c.parent_code.in_(sorted(offices)))
        .order_by(DEPARTMENTS.c.code)
    ).all()
    top = {code: parent for code, parent in rows}
    below: dict[str, list[str]] = {}
    for code, parent in rows:
        if staff.handlers.get(code):
            below.setdefault(parent, []).append(code)
    crew: dict[str, list[int]] = {}
    for uid, worker in staff.workers.items():
        dept = worker.department_code or ""
        office = dept if dept in offices else top.get(dept)
        if office is not None:
            crew.setdefault(office, []).append(uid)
    return (
        MappingProxyType({k: tuple(v) for k, v in below.items()}),
        MappingProxyType({k: tuple(v) for k, v in crew.items()}),
    )
