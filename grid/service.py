"""The grid side of intake: locate a point or address and route it, as the pipeline's
`Locator` and `Router` ports, plus the preview the intake screen asks for."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.core.actors import Actor
from dispatch.core.ports import Location, Routing
from dispatch.intake.repeats import RepeatCandidate, find_repeats
from grid.catalogue import Catalogue, catalogue_revision, load_catalogue
from grid.coords import to_wgs84
from grid.duties import on_duty
from grid.locator import (
    ADDRESS_APPROXIMATE,
    ADDRESS_NOT_FOUND,
    NO_GRID,
    NO_LOCATION,
    OUTSIDE_GRID,
    SWAPPED_COORDINATES,
    GridCache,
    GridIndex,
    LocatorSettings,
    active_version,
    check_point,
    get_locator_settings,
)
from grid.models import GazetteerEntry

if TYPE_CHECKING:
    from grid.geocoder import Gazetteer

# One cache per process: every request and task of the process shares the built indexes.
PROCESS_CACHE = GridCache()

AREA_PRECISIONS = frozenset({"community", "street"})


def gazetteer_revision(session: Session) -> tuple[int, int]:
    """Changes when gazetteer entries are added or removed (a cache key)."""
    count, top = session.execute(
        select(func.count(GazetteerEntry.id), func.max(GazetteerEntry.id))).one()
    return int(count), int(top or 0)


class GridRouting:
    """Locator and Router over the active grid version, for one session and moment."""

    def __init__(self, session: Session, now: datetime, cache: GridCache | None = None) -> None:
        self.session = session
        self.now = now
        self.cache = cache or PROCESS_CACHE
        self.version = active_version(session)
        self._settings: LocatorSettings | None = None

    @property
    def index(self) -> GridIndex | None:
        """The active version's index (None before the first import)."""
        if self.version is None:
            return None
        return self.cache.index(self.session, self.version)

    def _gazetteer(self) -> Gazetteer:
        from grid.geocoder import load_gazetteer

        version = self.version
        assert version is not None
        key = f"gazetteer:{gazetteer_revision(self.session)}"
        return self.cache.get(key, version, lambda: load_gazetteer(self.session, version))

    def settings(self) -> LocatorSettings:
        """The locator's distances (read once per instance)."""
        if self._settings is None:
            self._settings = get_locator_settings(self.session)
        return self._settings

    # ------------------------------------------------------------------ Locator port

    def locate(self, lon: float | None, lat: float | None, crs: str,
               address: str | None) -> Location:
        """The cell and areas of a point (any of WGS84/CGCS2000/GCJ02/BD09) or an address."""
        point = None
        if lon is not None and lat is not None:
            lon, lat = check_point(lon, lat)
            point = to_wgs84(lon, lat, crs)
        index = self.index
        if index is None:
            lon, lat = point or (None, None)
            return Location(lon, lat, address, flags=(NO_GRID,),
                            reasons=("未导入网格：无法定位网格",))
        flags: list[str] = []
        reasons: list[str] = []
        if point is not None:
            found = self._locate_point(index, point[0], point[1], "point", flags, reasons)
            if found.cell is not None or address is None:
                return replace(found, address=address)  # the citizen's words are kept
            reasons.append("坐标未能定位网格，改用地址")
        if address is not None:
            return self._locate_address(index, address, point, flags, reasons)
        return Location(None, None, None, grid_version=index.version, flags=(NO_LOCATION,),
                        reasons=("未提供位置：无坐标、无地址",))

    def _locate_point(self, index: GridIndex, lon: float, lat: float, precision: str,
                      flags: list[str], reasons: list[str]) -> Location:
        s = self.settings()
        hit = index.locate(lon, lat, boundary_m=s.boundary_m, nearest_max_m=s.nearest_max_m)
        flags.extend(hit.flags)
        if hit.cell is None:
            swapped = (-90 <= lon <= 90 and
                       index.locate(lat, lon, boundary_m=0, nearest_max_m=0).cell is not None)
            if swapped:
                flags.remove(OUTSIDE_GRID)
                flags.append(SWAPPED_COORDINATES)
                reasons.append(f"坐标（{lon:.6f}, {lat:.6f}）疑似经纬度颠倒，未采用：请核实位置")
            else:
                reasons.append(f"坐标（{lon:.6f}, {lat:.6f}）不在网格范围内"
                               f"（{s.nearest_max_m:g} 米内无网格）")
            return Location(lon, lat, None, grid_version=index.version, flags=tuple(flags),
                            precision=precision, reasons=tuple(reasons))
        reasons.append(self._describe(index, hit.cell, hit.community, hit.street))
        if hit.distance_m is not None:
            reasons.append(f"坐标在所有网格之外，取 {hit.distance_m:g} 米外最近的网格")
        if hit.boundary_m is not None:
            reasons.append(f"距网格边界 {hit.boundary_m:g} 米（{s.boundary_m:g} 米内）：请核实网格")
        return Location(lon, lat, None, hit.cell, hit.community, hit.street, index.version,
                        tuple(flags), hit.district, precision, tuple(reasons))

    def _locate_address(self, index: GridIndex, address: str,
                        point: tuple[float, float] | None, flags: list[str],
                        reasons: list[str]) -> Location:
        g = self._gazetteer().geocode(address)
        reasons.extend(g.reasons)
        if g.outcome != "matched" or g.lon is None or g.lat is None:
            flags.append(ADDRESS_NOT_FOUND)
            lon, lat = point or (None, None)
            return Location(lon, lat, address, grid_version=index.version, flags=tuple(flags),
                            reasons=tuple(reasons))
        if g.precision in AREA_PRECISIONS:
            # Only an area was named: its centre says nothing about the cell.
            flags.append(ADDRESS_APPROXIMATE)
            street = g.street
            district = index.areas[street].parent if street in index.areas else None
            reasons.append(self._describe(index, None, g.community, street))
            return Location(g.lon, g.lat, address, None, g.community, street, index.version,
                            tuple(flags), district, g.precision, tuple(reasons))
        found = self._locate_point(index, g.lon, g.lat, g.precision or "address", flags, reasons)
        return Location(found.lon, found.lat, address, found.cell, found.community, found.street,
                        found.grid_version, found.flags, found.district, found.precision,
                        found.reasons)

    @staticmethod
    def _describe(index: GridIndex, cell: str | None, community: str | None,
                  street: str | None) -> str:
        names = [index.areas[c].name for c in (street, community, cell) if c in index.areas]
        return "定位：" + " > ".join(names) if names else "定位：无"

    # ------------------------------------------------------------------ Router port

    def catalogue(self) -> Catalogue:
        """The dispatch catalogue (cached until a rule changes)."""
        key = f"catalogue:{catalogue_revision(self.session)}"
        return self.cache.get(key, self.version or 0, lambda: load_catalogue(self.session))

    def route(self, category: str | None, location: Location) -> Routing:
        """Lead, co-handlers and on-duty grid worker from the catalogue and the roster."""
        index = self.index
        names = index.area_names if index else {}
        decision = self.catalogue().resolve(category, location.areas(), location.street, names)
        reasons = list(decision.reasons)
        worker = None
        if decision.on_site:
            if location.cell is None:
                reasons.append("需网格员到场，但未定位到网格：请派单员指定网格员")
            else:
                duty = on_duty(self.session, location.cell, self.now)
                worker = duty.username
                reasons.append(duty.reason)
        return Routing(decision.lead, decision.co_handlers, tuple(reasons), worker,
                       decision.on_site, decision.rule)


@dataclass(frozen=True)
class Preview:
    """What the intake screen shows before a ticket exists."""

    location: Location
    routing: Routing
    repeats: tuple[RepeatCandidate, ...]


def preview(session: Session, now: datetime, *, lon: float | None, lat: float | None,
            crs: str, address: str | None, category: str | None, phone: str | None,
            openid: str | None, actor: Actor, cache: GridCache | None = None) -> Preview:
    """Locate, route and find the repeats `actor` may know of, without writing anything."""
    grid = GridRouting(session, now, cache)
    location = grid.locate(lon, lat, crs, address)
    routing = grid.route(category, location)
    repeats = find_repeats(session, category=category, lon=location.lon, lat=location.lat,
                           phone=phone, openid=openid, now=now, actor=actor)
    return Preview(location, routing, tuple(repeats))
