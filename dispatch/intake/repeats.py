"""Candidate repeats (DOMAIN.md, Repeats and merges): the same category near in place and time,
or the same caller about the same category within a month. Shown to the dispatcher, who
decides whether to merge."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    Float,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from dispatch.core.memo import memo
from dispatch.core.models import Category, Ticket
from dispatch.core.settings import load_setting, store_setting
from dispatch.core.vocab import OPEN_STATES
from dispatch.tickets.access import unmasked_citizen, visible_tickets

if TYPE_CHECKING:
    from dispatch.core.actors import Actor

REPEAT_RULES_KEY = "repeat_rules"
EARTH_RADIUS_M = 6_371_008.8


class RepeatRules(BaseModel):
    """The repeat rule's distances and windows (defaults are DOMAIN.md's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    radius_m: float = Field(250.0, gt=0, le=10_000)
    window_hours: int = Field(72, ge=1, le=24 * 90)
    same_caller_days: int = Field(30, ge=1, le=365)
    limit: int = Field(10, ge=1, le=100)


def get_repeat_rules(session: Session) -> RepeatRules:
    """The repeat rules in force."""
    return load_setting(session, REPEAT_RULES_KEY, RepeatRules)


def set_repeat_rules(session: Session, data: dict[str, Any], actor_id: int | None) -> RepeatRules:
    """Validate and store the repeat rules (recorded as the actor's change)."""
    return store_setting(session, REPEAT_RULES_KEY, RepeatRules, data, actor_id,
                         record_as="repeat_rules")


@dataclass(frozen=True)
class RepeatCandidate:
    number: str
    status: str
    category: str | None
    created_at: datetime
    reason: str  # "nearby" | "same_caller"
    distance_m: float | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored in the intake event, shown by the API)."""
        return {"number": self.number, "status": self.status, "category": self.category,
                "created_at": self.created_at.isoformat(), "reason": self.reason,
                "distance_m": self.distance_m}


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def category_tree(session: Session) -> Mapping[str, tuple[str | None, bool]]:
    """Every category: code → (parent code, active); read once per transaction."""
    return memo(session, "category_tree", (Category,), lambda: MappingProxyType({
        code: (parent, bool(active)) for code, parent, active in session.execute(
            select(Category.code, Category.parent_code, Category.active))}))


def related_categories(session: Session, code: str) -> set[str]:
    """A category with its ancestors and descendants: 占道经营 repeats 市容市貌 and back (kept
    with the category tree)."""
    return set(memo(session, ("related_categories", code), (Category,),
                    lambda: frozenset(_related(category_tree(session), code))))


def _related(tree: Mapping[str, tuple[str | None, bool]], code: str) -> set[str]:
    rows = {c: parent for c, (parent, _) in tree.items()}
    related = {code}
    parent = rows.get(code)
    while parent is not None and parent not in related:
        related.add(parent)
        parent = rows.get(parent)
    frontier = {code}
    while frontier:
        frontier = {c for c, p in rows.items() if p in frontier} - related
        related |= frontier
    return related


_COLUMNS = (Ticket.number, Ticket.status, Ticket.category_code, Ticket.created_at, Ticket.lon,
            Ticket.lat)


def _repeats_query(near_point: bool, callers: tuple[str, ...],
                   visible: ColumnElement[bool] | None = None,
                   unmasked: ColumnElement[bool] | None = None) -> Select[Any]:
    """The one query of `find_repeats`, its values as named parameters: nearby demands (when
    `near_point`), then those of the same caller (`callers`: "phone", "openid") that are not
    nearby; nearest, then newest first. The distance is the flat-earth one:
    Δlat²·ky² + Δlon²·kx² (square metres)."""
    keep: list[ColumnElement[bool]] = [
        Ticket.status.in_(bindparam("open_states", expanding=True, literal_execute=True)),
        Ticket.category_code.in_(bindparam("categories", expanding=True, literal_execute=True)),
        Ticket.id != bindparam("exclude_id", type_=Integer)]
    if visible is not None:
        keep.append(visible)
    branches = []
    near: Any = None
    flat: Any = null()
    if near_point:
        lat, lon = bindparam("lat", type_=Float), bindparam("lon", type_=Float)
        flat = ((Ticket.lat - lat) * (Ticket.lat - lat) * bindparam("ky2", type_=Float)
                + (Ticket.lon - lon) * (Ticket.lon - lon) * bindparam("kx2", type_=Float))
        box = (Ticket.created_at >= bindparam("since"),
               Ticket.lat.between(bindparam("lat_lo", type_=Float),
                                  bindparam("lat_hi", type_=Float)),
               Ticket.lon.between(bindparam("lon_lo", type_=Float),
                                  bindparam("lon_hi", type_=Float)))
        branches.append(select(*_COLUMNS, literal(0).label("rank"), flat.label("flat"))
                        .where(*keep, *box, flat <= bindparam("outer2", type_=Float)))
        # Surely nearby: left out of the caller's branch (those at the edge are in both).
        near = and_(*box, flat <= bindparam("inner2", type_=Float))
    if callers:
        columns = {"phone": Ticket.citizen_phone, "openid": Ticket.citizen_openid}
        same = [unmasked if unmasked is not None else true(),
                Ticket.created_at >= bindparam("caller_since"),
                or_(*(columns[c] == bindparam(c, type_=String) for c in callers))]
        if near is not None:
            same.append(case((near, 1), else_=0) == 0)  # not nearby (NULL-safe)
        branches.append(select(*_COLUMNS, literal(1).label("rank"), flat.label("flat"))
                        .where(*keep, *same))
    found = union_all(*branches).subquery() if len(branches) > 1 else branches[0].subquery()
    return select(found).order_by(
        found.c.rank, case((found.c.flat.is_(None), 1), else_=0), found.c.flat,
        found.c.created_at.desc()).limit(bindparam("limit", type_=Integer))


# The query of each shape, built once: its cache key and compiled form are kept by SQLAlchemy
# with it (building it anew each intake cost more than executing it).
_kept_repeats_query = lru_cache(maxsize=8)(_repeats_query)


def find_repeats(session: Session, *, category: str | None, lon: float | None,
                 lat: float | None, phone: str | None, openid: str | None, now: datetime,
                 exclude_id: int | None = None, rules: RepeatRules | None = None,
                 actor: Actor | None = None) -> list[RepeatCandidate]:
    """Open tickets this demand may repeat, nearest and newest first. Asked for an `actor`
    (a preview), only tickets that actor may see (dispatch/tickets/access.py), and a match
    by caller only among those whose caller it sees unmasked: the same caller must not tell
    whose a masked or hidden ticket is."""
    if category is None:
        return []
    rules = rules or get_repeat_rules(session)
    # One query, nearest first, at most the limit (and a few beyond it for the edge of the
    # radius): the nearby demands, then those of the same caller that are not nearby. The
    # distance in SQL is the flat-earth one (exact to well under a metre at these ranges);
    # the great-circle distance, the radius and the order are then settled in Python.
    near_point = lon is not None and lat is not None
    callers = tuple(c for c, v in (("phone", phone), ("openid", openid)) if v)
    if not near_point and not callers:
        return []
    params: dict[str, Any] = {
        "open_states": list(OPEN_STATES),
        "categories": sorted(related_categories(session, category)),
        "exclude_id": exclude_id or -1, "limit": rules.limit + 5,
        "caller_since": now - timedelta(days=rules.same_caller_days)}
    params |= {c: phone if c == "phone" else openid for c in callers}
    if near_point:
        assert lon is not None and lat is not None
        dlat = rules.radius_m / 111_000
        dlon = rules.radius_m / (111_000 * max(math.cos(math.radians(lat)), 0.01))
        ky, kx = 111_195.0, 111_195.0 * math.cos(math.radians(lat))
        params |= {"lat": lat, "lon": lon, "ky2": ky * ky, "kx2": kx * kx,
                   "since": now - timedelta(hours=rules.window_hours),
                   "lat_lo": lat - dlat, "lat_hi": lat + dlat,
                   "lon_lo": lon - dlon, "lon_hi": lon + dlon,
                   "outer2": (rules.radius_m * 1.01) ** 2,
                   "inner2": (rules.radius_m * 0.99) ** 2}
    if actor is None:
        query = _kept_repeats_query(near_point, callers)
    else:
        query = _repeats_query(near_point, callers, visible_tickets(actor),
                               unmasked_citizen(actor))
    rows = session.execute(query, params).all()
    found: dict[str, RepeatCandidate] = {}
    for row in rows:
        apart = None
        if lon is not None and lat is not None and row.lon is not None and row.lat is not None:
            apart = distance_m(lon, lat, row.lon, row.lat)
        if row.rank == 0:
            if apart is not None and apart <= rules.radius_m:
                found[row.number] = RepeatCandidate(row.number, row.status, row.category_code,
                                                    row.created_at, "nearby", round(apart, 1))
        elif row.number not in found:
            found[row.number] = RepeatCandidate(
                row.number, row.status, row.category_code, row.created_at, "same_caller",
                None if apart is None else round(apart, 1))
    ordered = sorted(found.values(), key=lambda c: (c.reason != "nearby",
                                                    c.distance_m if c.distance_m is not None
                                                    else math.inf, -c.created_at.timestamp()))
    return ordered[:rules.limit]
