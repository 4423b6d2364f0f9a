"""The in-memory grid locator: one shapely STRtree per grid version, shared by the process.

Geometry is held in a local metric plane (metres east and north of the grid's centre, an
equirectangular projection at the centre's latitude). Over a county or city the scale error is
a fraction of a percent, so "within 50 m of a boundary" and "nearest cell within 1 km" are
measured in metres with two multiplications per point instead of a PROJ call; point-in-polygon
is unaffected by the (affine) projection.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import numpy as np
import shapely
import shapely.geometry
from pydantic import BaseModel, ConfigDict, Field
from shapely import STRtree
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.errors import InvalidInput
from dispatch.core.memo import memo
from dispatch.core.settings import load_setting, store_setting
from grid.models import CELL, COMMUNITY, DISTRICT, STREET, Area, GridVersion

LOCATOR_SETTINGS_KEY = "grid_locator"

T = TypeVar("T")

# Location flags (stored on the ticket, shown to the dispatcher).
NEAREST_CELL = "nearest_cell"  # outside every cell: the nearest cell within the limit was taken
NEAR_BOUNDARY = "near_boundary"  # within the boundary distance of another cell
OUTSIDE_GRID = "outside_grid"  # outside every cell and beyond the limit: no cell
SWAPPED_COORDINATES = "swapped_coordinates"  # lat/lon look swapped: not used, flagged
NO_LOCATION = "no_location"  # neither a point nor an address
NO_GRID = "no_grid"  # no grid imported yet
ADDRESS_NOT_FOUND = "address_not_found"  # the address matched nothing in the gazetteer
ADDRESS_APPROXIMATE = "address_approximate"  # the address only named a community or street


class LocatorSettings(BaseModel):
    """Distances of DOMAIN.md's routing rules (defaults are what ships)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    boundary_m: float = Field(50.0, ge=0, le=1000)
    nearest_max_m: float = Field(1000.0, ge=0, le=20_000)


def get_locator_settings(session: Session) -> LocatorSettings:
    """The locator's distances in force."""
    return load_setting(session, LOCATOR_SETTINGS_KEY, LocatorSettings)


def set_locator_settings(session: Session, data: dict[str, Any],
                         actor_id: int | None) -> LocatorSettings:
    """Validate and store the locator's distances (recorded as the actor's change)."""
    return store_setting(session, LOCATOR_SETTINGS_KEY, LocatorSettings, data, actor_id,
                         record_as="setting")


def check_point(lon: Any, lat: Any) -> tuple[float, float]:
    """A finite WGS-84-range longitude and latitude, or a clear error naming the field."""
    for name, value, limit in (("lon", lon, 180.0), ("lat", lat, 90.0)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"{name}: 须为数字", field=name)
        if not math.isfinite(value):
            raise InvalidInput(f"{name}: 须为有限的数字（收到 {value}）", field=name)
        if not -limit <= value <= limit:
            raise InvalidInput(f"{name}: 须在 -{limit:g} 到 {limit:g} 之间（收到 {value}）",
                               field=name)
    return float(lon), float(lat)


@dataclass(frozen=True)
class AreaInfo:
    code: str
    name: str
    level: str
    parent: str | None
    lon: float
    lat: float


@dataclass(frozen=True)
class CellHit:
    """Where a point falls: the cell and the areas above it, with flags and distances."""

    cell: str | None
    community: str | None
    street: str | None
    district: str | None
    flags: tuple[str, ...]
    distance_m: float | None = None  # to the nearest cell, when the point is outside every cell
    boundary_m: float | None = None  # to the cell's boundary, when near it


class GridIndex:
    """An immutable index of one grid version (safe to share between threads)."""

    def __init__(self, version: int, areas: list[AreaInfo], geometries: list[Any]) -> None:
        self.version = version
        self.areas = {a.code: a for a in areas}
        self.area_names = {a.code: a.name for a in areas}  # what routing reasons name
        self._area_list = areas  # positions match `geometries`
        wgs = np.asarray(geometries, dtype=object)
        bounds = shapely.total_bounds(wgs) if len(wgs) else np.array([0.0, 0.0, 0.0, 0.0])
        self.bbox = tuple(float(v) for v in bounds)
        self.lon0 = (bounds[0] + bounds[2]) / 2
        self.lat0 = (bounds[1] + bounds[3]) / 2
        phi = math.radians(self.lat0)
        # Metres per degree on the WGS-84 ellipsoid at the centre's latitude.
        self.ky = 111132.92 - 559.82 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)
        self.kx = 111412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi)
        levels = np.array([a.level for a in areas], dtype=object)
        self._wgs = wgs
        self._by_level: dict[str, np.ndarray] = {
            level: np.flatnonzero(levels == level) for level in (DISTRICT, STREET, COMMUNITY, CELL)
        }
        cell_idx = self._by_level[CELL]
        self.cell_codes: tuple[str, ...] = tuple(areas[i].code for i in cell_idx)
        planar = shapely.transform(wgs[cell_idx], self._to_plane_array)
        self._cells = planar
        self._boundaries = shapely.boundary(planar)
        shapely.prepare(self._cells)
        shapely.prepare(self._boundaries)
        self._tree = STRtree(planar)
        self._chains = [self._chain(code) for code in self.cell_codes]
        self._level_trees: dict[str, STRtree] = {}
        self._simplified: dict[tuple[str, int], np.ndarray] = {}
        # GEOS prepared geometries build their internal indexes lazily and are not thread-safe
        # (libgeos/geos#825), and shapely releases the GIL inside GEOS calls: every geometry
        # operation on the shared index runs under this lock (about 20 µs each).
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ projection

    def _to_plane_array(self, coords: np.ndarray) -> np.ndarray:
        out = np.empty_like(coords)
        out[:, 0] = (coords[:, 0] - self.lon0) * self.kx
        out[:, 1] = (coords[:, 1] - self.lat0) * self.ky
        return out

    def to_plane(self, lon: float, lat: float) -> tuple[float, float]:
        """Metres east and north of the grid's centre."""
        return (lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky

    def _chain(self, code: str) -> tuple[str | None, str | None, str | None]:
        community = street = district = None
        parent = self.areas[code].parent
        while parent is not None and parent in self.areas:
            area = self.areas[parent]
            if area.level == COMMUNITY:
                community = area.code
            elif area.level == STREET:
                street = area.code
            elif area.level == DISTRICT:
                district = area.code
            parent = area.parent
        return community, street, district

    # ------------------------------------------------------------------ lookups

    def locate(self, lon: float, lat: float, *, boundary_m: float = 50.0,
               nearest_max_m: float = 1000.0) -> CellHit:
        """The cell containing a WGS-84 point, else the nearest within the limit, with flags."""
        with self._lock:
            return self._locate(lon, lat, boundary_m, nearest_max_m)

    def _locate(self, lon: float, lat: float, boundary_m: float,
                nearest_max_m: float) -> CellHit:
        x, y = self.to_plane(lon, lat)
        point = shapely.Point(x, y)
        found = self._tree.query(point, predicate="within")
        flags: list[str] = []
        distance = None
        if len(found):
            i = int(found.min())  # overlapping cells (reported at import): the first wins
        else:
            if not len(self._cells):
                return CellHit(None, None, None, None, (OUTSIDE_GRID,))
            near, dist = self._tree.query_nearest(point, max_distance=nearest_max_m or None,
                                                  return_distance=True, all_matches=False)
            if not len(near) or dist[0] > nearest_max_m:
                return CellHit(None, None, None, None, (OUTSIDE_GRID,))
            i, distance = int(near[0]), round(float(dist[0]), 1)
            flags.append(NEAREST_CELL)
        boundary = None
        if boundary_m > 0 and distance is None and shapely.dwithin(
                self._boundaries[i], point, boundary_m):
            boundary = round(float(shapely.distance(self._boundaries[i], point)), 1)
            flags.append(NEAR_BOUNDARY)
        community, street, district = self._chains[i]
        return CellHit(self.cell_codes[i], community, street, district, tuple(flags),
                       distance, boundary)

    def locate_many(self, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
        """Cell positions (into `cell_codes`) for many points at once; -1 outside every cell."""
        xs = (np.asarray(lons, dtype=float) - self.lon0) * self.kx
        ys = (np.asarray(lats, dtype=float) - self.lat0) * self.ky
        points = shapely.points(xs, ys)
        # Bounding boxes first (about 1.5 candidates a point), then an exact test on the
        # coordinates: faster than the tree's own "within" predicate, same answers.
        with self._lock:
            pts, cells = self._tree.query(points)
            inside = shapely.contains_xy(self._cells[cells], xs[pts], ys[pts])
        pts, cells = pts[inside], cells[inside]
        out = np.full(len(points), -1, dtype=np.int64)
        # Inside two overlapping cells the first (lowest position) wins, as in `locate`.
        order = np.lexsort((-cells, pts))
        out[pts[order]] = cells[order]
        return out

    def chain(self, cell: str) -> tuple[str | None, str | None, str | None]:
        """The community, street and district above a cell."""
        return self._chains[self.cell_codes.index(cell)]

    # ------------------------------------------------------------------ map features

    def features(self, level: str, bbox: tuple[float, float, float, float] | None,
                 zoom: int, limit: int = 5000) -> tuple[list[dict[str, Any]], bool]:
        """GeoJSON features of one level inside a bounding box, simplified for a web-map zoom
        level (to about half a screen pixel); says whether the limit cut the list short."""
        idx = self._by_level.get(level)
        if idx is None:
            raise InvalidInput(f"level: 须为以下之一：{'、'.join(self._by_level)}", field="level")
        geoms = self._simplified_level(level, zoom)
        if bbox is not None:
            with self._lock:
                tree = self._level_trees.get(level)
                if tree is None:
                    tree = self._level_trees[level] = STRtree(self._wgs[idx])
                hits = np.sort(tree.query(shapely.box(*bbox), predicate="intersects"))
        else:
            hits = np.arange(len(idx))
        truncated = len(hits) > limit
        out = []
        for j in hits[:limit]:
            area = self._area_list[idx[j]]
            out.append({
                "type": "Feature",
                "geometry": shapely.geometry.mapping(geoms[j]),
                "properties": {"code": area.code, "name": area.name, "level": area.level,
                               "parent": area.parent},
            })
        return out, truncated

    def _simplified_level(self, level: str, zoom: int) -> np.ndarray:
        zoom = max(0, min(int(zoom), 22))
        key = (level, zoom)
        with self._lock:
            cached = self._simplified.get(key)
        if cached is not None:
            return cached
        # Degrees per pixel of a 256-pixel tile at this zoom; half a pixel is invisible.
        tolerance = 360.0 / (256 * 2 ** zoom) / 2
        with self._lock:
            geoms: np.ndarray = shapely.simplify(self._wgs[self._by_level[level]], tolerance,
                                     preserve_topology=True)
            geoms = shapely.set_precision(geoms, 1e-6)
            self._simplified[key] = geoms
        return geoms


def _index_from_rows(version: int, rows: Sequence[Any]) -> GridIndex:
    areas = [AreaInfo(r.code, r.name, r.level, r.parent_code, r.point_lon, r.point_lat)
             for r in rows]
    geoms = shapely.from_wkb([r.geometry for r in rows])
    return GridIndex(version, areas, list(geoms))


def build_index(session: Session, version: int) -> GridIndex:
    """Read one grid version's areas and build its index."""
    rows = session.execute(
        select(Area.code, Area.name, Area.level, Area.parent_code, Area.point_lon,
               Area.point_lat, Area.geometry)
        .where(Area.grid_version == version).order_by(Area.id)
    ).all()
    return _index_from_rows(version, rows)


def active_version(session: Session) -> int | None:
    """The id of the active grid version (None before the first import)."""
    return memo(session, "grid_version_active", (GridVersion,), lambda: session.scalar(
        select(GridVersion.id).where(GridVersion.active.is_(True))
        .order_by(GridVersion.id.desc()).limit(1)))


class GridCache:
    """Indexes (and other per-version structures) shared by every request of the process.

    Each lookup asks the database which version is active, so an import made by another
    process is picked up by the next request; a version's index is built once."""

    def __init__(self, keep: int = 2) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._built: dict[tuple[str, int], Any] = {}

    def get(self, kind: str, version: int, build: Callable[[], T]) -> T:
        """The cached structure of a kind for a version, building it once if missing.

        A kind may carry a revision after a colon ("catalogue:<rev>"): a new revision
        replaces the older ones of the same family."""
        key = (kind, version)
        with self._lock:
            if key in self._built:
                return cast(T, self._built[key])
        value = build()  # outside the lock: a slow build must not stall other versions
        family = kind.split(":", 1)[0]
        with self._lock:
            for k in [k for k in self._built
                      if k[1] == version and k[0] != kind and k[0].split(":", 1)[0] == family]:
                del self._built[k]
            value = cast(T, self._built.setdefault(key, value))
            versions = sorted({v for _, v in self._built}, reverse=True)
            for old in versions[self._keep:]:
                for k in [k for k in self._built if k[1] == old]:
                    del self._built[k]
        return value

    def index(self, session: Session, version: int) -> GridIndex:
        """The locator index of a grid version."""
        return self.get("index", version, lambda: build_index(session, version))

    def clear(self) -> None:
        """Forget everything (tests)."""
        with self._lock:
            self._built.clear()
