"""Cutting the county into pieces: streets (a capacity-constrained power diagram of one site
per street, seen through a smooth random displacement of the plane, `Warp`), communities and
cells (well-spread seeds, Voronoi cells clipped to the parent), tidied (fragments and slivers
merged) and noded so that neighbours share identical edges."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPoint, Polygon
from shapely.geometry.base import BaseGeometry

from grid.demo.basis import (
    CONTRACT_CROSSING,
    PLANE,
    SNAP_M,
)

# ---------------------------------------------------------------- streets


@dataclass(frozen=True)
class StreetPlan:
    """Where a street or town lies and how big it should be."""

    code: str
    name: str  # 蒲东街道, 恼里镇, 芦岗乡
    short: str  # 蒲东, 恼里
    slug: str  # pudong, naoli: usernames
    site: tuple[float, float]  # km east and north of the city centre
    share: float  # relative target area
    urban: bool


# Sites (km east and north of the centre) and target areas: the 5 街道 in a ring round the
# centre (蒲西 holding the centre itself), the towns roughly in the direction of their real
# seats (the Yellow River flood-plain towns along the eastern bank). Urban targets are km²,
# town shares split what is left.
_SITES: dict[str, tuple[float, float, float]] = {
    "street_puxi": (-1.2, 0.2, 24.0),
    "street_pudong": (3.0, 0.4, 22.0),
    "street_pubei": (0.8, 3.2, 24.0),
    "street_nanpu": (0.2, -3.2, 24.0),
    "street_weizhuang": (4.2, -3.4, 26.0),
    "town_mancun": (-13.1, -0.5, 1.0),
    "town_fangli": (-8.8, 5.8, 1.0),
    "town_menggang": (-1.1, 10.1, 1.0),
    "town_naoli": (7.1, 10.1, 1.0),
    "town_changcun": (12.9, 16.9, 1.0),
    "town_shejia": (17.8, 10.6, 1.0),
    "town_zhaodi": (26.5, 14.0, 1.0),
    "township_wuqiu": (21.6, 4.8, 0.95),
    "town_miaozhai": (15.8, -1.4, 1.0),
    "town_dingluan": (10.0, -8.7, 1.0),
    "township_lugang": (12.9, -18.4, 0.95),
    "town_fanxiang": (3.8, -15.5, 1.0),
    "town_zhangsanzhai": (-2.5, -6.3, 1.0),
}


def street_plans(departments: Sequence[dict[str, Any]]) -> list[StreetPlan]:
    """One plan per territorial department, in the departments file's order."""
    plans = []
    for dept in departments:
        if dept.get("kind") != "territorial":
            continue
        code = dept["street_code"]
        if code not in _SITES:
            raise ValueError(f"no demo site for the territorial department {code!r}")
        name = dept["name"].removesuffix("办事处")
        short = name
        for suffix in ("街道", "镇", "乡"):
            if short.endswith(suffix):
                short = short[: -len(suffix)]
                break
        x, y, share = _SITES[code]
        plans.append(StreetPlan(code, name, short, code.split("_", 1)[1], (x, y), share,
                                code.startswith("street_")))
    if len(plans) != len(_SITES):
        missing = sorted(set(_SITES) - {p.code for p in plans})
        raise ValueError(f"territorial departments missing from the file: {missing}")
    return plans


@dataclass(frozen=True)
class Warp:
    """A smooth random displacement of the plane, q -> q + D(q), Lipschitz constant below 1,
    so it is one-to-one: straight borders become wandering ones and a tiling stays a tiling.
    Amplitude up to ~0.6 km in the country, half that in the city."""

    waves: tuple[tuple[int, float, float, float, float], ...]  # axis, kx, ky, phase, amp

    @classmethod
    def random(cls, rng: np.random.Generator) -> Warp:
        waves = []
        for axis in (0, 1):
            # Slopes: 3 x 170 x 2pi/8000 + 60 x 2pi/2500 + the taper, under 0.65 per axis.
            for low, high, amp in ((8000.0, 14000.0, 170.0), (8000.0, 14000.0, 170.0),
                                   (8000.0, 14000.0, 170.0), (2500.0, 4000.0, 60.0)):
                k = 2 * math.pi / rng.uniform(low, high)
                angle = rng.uniform(0.0, math.pi)
                waves.append((axis, k * math.cos(angle), k * math.sin(angle),
                              rng.uniform(0.0, 2 * math.pi), amp))
        return cls(tuple(waves))

    def shift(self, q: np.ndarray) -> np.ndarray:
        """D(q) for an (N, 2) array of plane points."""
        r = np.hypot(q[:, 0], q[:, 1]) / 1000.0
        t = np.clip((r - 4.0) / 6.0, 0.0, 1.0)
        scale = 0.5 + 0.5 * t * t * (3 - 2 * t)
        out = np.zeros_like(q)
        for axis, kx, ky, phase, amp in self.waves:
            out[:, axis] += amp * np.sin(q[:, 0] * kx + q[:, 1] * ky + phase)
        return out * scale[:, None]

    def forward(self, q: np.ndarray) -> np.ndarray:
        """Where the points go."""
        return q + self.shift(q)

    def inverse(self, p: np.ndarray) -> np.ndarray:
        """Where the points come from."""
        q = p.copy()
        for _ in range(120):  # a contraction (factor < 0.92): well under a millimetre
            q = p - self.shift(q)
        return q

    def apply(self, geom: BaseGeometry, step: float = 120.0) -> BaseGeometry:
        """The warped image of a polygon, its edges first cut into `step`-metre pieces."""
        return shapely.transform(shapely.segmentize(geom, step), self.forward)


def _power_cells(sites: np.ndarray, weights: np.ndarray,
                 box: Polygon) -> list[BaseGeometry]:
    """The power diagram of weighted sites inside a box (each cell an intersection of
    half-planes |p - s_i|^2 - w_i <= |p - s_j|^2 - w_j)."""
    x0, y0, x1, y1 = box.bounds
    far = 4 * max(x1 - x0, y1 - y0)
    cells = []
    for i, si in enumerate(sites):
        cell: BaseGeometry = box
        for j, sj in enumerate(sites):
            if i == j:
                continue
            normal = sj - si
            # Points p with p . normal <= c, c from expanding the squared distances.
            c = (sj @ sj - si @ si - weights[j] + weights[i]) / 2.0
            unit = normal / np.linalg.norm(normal)
            base = unit * c / np.linalg.norm(normal)
            along = np.array([-unit[1], unit[0]])
            half = Polygon([base + along * far, base + along * far - unit * far,
                            base - along * far - unit * far, base - along * far])
            cell = shapely.intersection(cell, half)
        cells.append(cell)
    return cells


def _capacity_weights(points: np.ndarray, areas: np.ndarray, sites: np.ndarray,
                      target: np.ndarray) -> np.ndarray:
    """Power weights that give each site its target area of the points (km), by plain
    gradient steps (a capacity-constrained power diagram)."""
    dist2 = ((points[:, None, :] - sites[None, :, :]) ** 2).sum(axis=2)
    weights = np.zeros(len(sites))
    for _ in range(800):
        label = np.argmin(dist2 - weights[None, :], axis=1)
        got = np.bincount(label, weights=areas, minlength=len(sites))
        weights += 0.3 * (target - got)
    return weights


def _lobes(rng: np.random.Generator) -> Callable[[np.ndarray], np.ndarray]:
    terms = [(k, rng.uniform(low, high), rng.uniform(0, 2 * math.pi))
             for k, low, high in ((2, 0.10, 0.16), (3, 0.06, 0.10), (5, 0.02, 0.04))]

    def lobes(theta: np.ndarray) -> np.ndarray:
        return np.asarray(1.0 + sum(a * np.sin(k * theta + ph) for k, a, ph in terms))

    return lobes


def split_streets(outline: Polygon, plans: Sequence[StreetPlan],
                  rng: np.random.Generator) -> dict[str, Polygon]:
    """The county (plane metres) split into one polygon per street plan.

    The city (the 5 街道 together) is a lobed disc round the centre; it and the rest of the
    county (the towns) are each shared by a capacity-constrained power diagram of the sites;
    all of it seen through one `Warp`."""
    warp = Warp.random(rng)
    lobes = _lobes(rng)
    spacing = 200.0
    x0, y0, x1, y1 = outline.bounds
    gx, gy = np.meshgrid(np.arange(x0, x1, spacing) + spacing / 2,
                         np.arange(y0, y1, spacing) + spacing / 2)
    lattice = np.column_stack([gx.ravel(), gy.ravel()])
    lattice = lattice[shapely.contains_xy(outline, lattice[:, 0], lattice[:, 1])]
    areas = np.full(len(lattice), spacing * spacing / 1e6)
    q = warp.inverse(lattice)  # where each lattice point sits before the warp
    urban = [i for i, p in enumerate(plans) if p.urban]
    towns = [i for i, p in enumerate(plans) if not p.urban]
    box = shapely.box(*outline.buffer(5000.0).bounds)

    # The city disc: radius scaled by the lobes, sized to the 街道's total area.
    theta = np.arctan2(q[:, 1], q[:, 0])
    r_eff = np.hypot(q[:, 0], q[:, 1]) / lobes(theta)
    city_km2 = sum(plans[i].share for i in urban)
    order = np.argsort(r_eff, kind="stable")
    radius = float(r_eff[order][np.searchsorted(np.cumsum(areas[order]), city_km2)])
    ring = np.linspace(0.0, 2 * math.pi, 721)[:-1]
    disc = Polygon(np.column_stack([np.cos(ring), np.sin(ring)])
                   * (radius * lobes(ring))[:, None])
    in_city = r_eff <= radius

    # The city's 街道: power cells of their sites inside the disc (蒲西's site is the nearest
    # to the centre, so that it holds the centre).
    pieces: dict[int, BaseGeometry] = {}
    city_sites = np.array([plans[i].site for i in urban])
    city_weights = _capacity_weights(q[in_city] / 1000.0, areas[in_city], city_sites,
                                     np.array([plans[i].share for i in urban]))
    # The address of the 110 example in CONTRACT.md, 蒲西街道宏力大道与山海大道交叉口, must lie
    # in 蒲西 (and not on its border): grow 蒲西's weight until it holds the point with room.
    pin = warp.inverse(PLANE.to_xy(np.array([CONTRACT_CROSSING])))[0] / 1000.0
    west = next(k for k, i in enumerate(urban) if plans[i].code == "street_puxi")
    power = ((city_sites - pin) ** 2).sum(axis=1) - city_weights
    while power[west] > np.delete(power, west).min() - 2.0:
        city_weights[west] += 0.1
        power[west] -= 0.1
    for i, cell in zip(urban, _power_cells(city_sites * 1000.0, city_weights * 1e6, box),
                       strict=True):
        pieces[i] = shapely.intersection(cell, disc)

    # The towns: power cells of their sites, less the city.
    sites = np.array([plans[i].site for i in towns]) * 1000.0
    shares_t = np.array([plans[i].share for i in towns])
    target = shares_t / shares_t.sum() * (areas.sum() - areas[in_city].sum())
    weights = _capacity_weights(q[~in_city] / 1000.0, areas[~in_city], sites / 1000.0, target)
    for i, cell in zip(towns, _power_cells(sites, weights * 1e6, box), strict=True):
        pieces[i] = shapely.difference(cell, disc)

    warped = [shapely.intersection(warp.apply(pieces[i]), outline, grid_size=SNAP_M)
              for i in range(len(plans))]
    noded = node_partition(warped, outline, SNAP_M)
    tidy = tidy_partition(noded, min_area=0.0)
    return {p.code: g for p, g in zip(plans, tidy, strict=True) if g is not None}


# ---------------------------------------------------------------- partitions


def polygon_parts(geom: BaseGeometry | None) -> list[Polygon]:
    if geom is None:
        return []
    out: list[Polygon] = []
    for part in shapely.get_parts(shapely.make_valid(geom)):
        if part.geom_type == "Polygon" and not part.is_empty:
            out.append(part)
        elif part.geom_type in ("MultiPolygon", "GeometryCollection"):
            out.extend(polygon_parts(part))
    return out


def tidy_partition(pieces: Sequence[BaseGeometry], min_area: float) -> list[Polygon | None]:
    """Make each piece of a partition one polygon: stray fragments, and whole pieces smaller
    than `min_area`, go to the neighbour they share the longest border with."""
    main: list[Polygon | None] = []
    orphans: list[Polygon] = []
    for piece in pieces:
        parts = sorted(polygon_parts(piece), key=lambda p: -p.area)
        if not parts or parts[0].area < min_area:
            main.append(None)
            orphans.extend(parts)
            continue
        main.append(parts[0])
        orphans.extend(parts[1:])
    for orphan in sorted(orphans, key=lambda p: -p.area):
        best, best_len = None, -1.0
        ring = orphan.boundary
        for j, other in enumerate(main):
            if other is None or not orphan.intersects(other.buffer(0.01)):
                continue
            shared = shapely.length(shapely.intersection(ring, other.buffer(0.01)))
            if shared > best_len:
                best, best_len = j, shared
        if best is None:
            best = min((j for j, g in enumerate(main) if g is not None),
                       key=lambda j: orphan.distance(main[j]))
        merged = polygon_parts(shapely.union(main[best], orphan, grid_size=SNAP_M))
        merged.sort(key=lambda p: -p.area)
        # A merge across a rounding-sized gap: close it with a tiny buffer round trip.
        main[best] = merged[0] if len(merged) == 1 else \
            polygon_parts(shapely.union_all(merged).buffer(0.01, join_style="mitre")
                      .buffer(-0.01, join_style="mitre"))[0]
    return main


def node_partition(pieces: Sequence[BaseGeometry], extent: BaseGeometry | None,
                   grid: float) -> list[BaseGeometry]:
    """Rebuild a partition whose pieces nearly tile: all borders noded once on a `grid`, cut
    into faces, each face given to the piece it overlaps most (faces outside `extent` are
    dropped), so that neighbours share identical edges."""
    arr = np.array(pieces, dtype=object)
    lines = list(shapely.boundary(arr))
    if extent is not None:
        lines.append(shapely.boundary(extent))
    noded = shapely.union_all(lines, grid_size=grid)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    if extent is not None:
        probe = shapely.point_on_surface(faces)
        faces = faces[shapely.covers(extent, probe)]
    tree = shapely.STRtree(arr)
    owner = np.full(len(faces), -1)
    probe = shapely.point_on_surface(faces)
    hit_face, hit_piece = tree.query(probe, predicate="within")
    counts = np.bincount(hit_face, minlength=len(faces))
    single = counts[hit_face] == 1
    owner[hit_face[single]] = hit_piece[single]
    for f in np.nonzero(owner < 0)[0]:
        near = tree.query(faces[f], predicate="intersects")
        if len(near) == 0:
            near = np.array([tree.query_nearest(faces[f])[0]])
        overlap = shapely.area(shapely.intersection(arr[near], faces[f]))
        if overlap.max() > 0:
            owner[f] = near[int(np.argmax(overlap))]
        else:
            owner[f] = near[int(np.argmin(shapely.distance(arr[near], probe[f])))]
    out: list[BaseGeometry] = []
    for i in range(len(arr)):
        mine = faces[owner == i]
        out.append(shapely.union_all(mine, grid_size=grid) if len(mine) else Polygon())
    return out


# ---------------------------------------------------------------- communities and cells


def city_density(xy: np.ndarray) -> np.ndarray:
    """Relative density of communities and cells: four times as dense in the old town."""
    r = np.hypot(xy[:, 0], xy[:, 1]) / 1000.0
    return 1.0 + 3.0 * np.exp(-((r / 3.5) ** 2))


def _uniform_points(poly: Polygon, n: int, rng: np.random.Generator) -> np.ndarray:
    x0, y0, x1, y1 = poly.bounds
    out = np.empty((0, 2))
    while len(out) < n:
        batch = rng.uniform((x0, y0), (x1, y1), size=(max(2 * n, 64), 2))
        out = np.vstack([out, batch[shapely.contains_xy(poly, batch[:, 0], batch[:, 1])]])
    return out[:n]


def blue_noise(poly: Polygon, n: int, rng: np.random.Generator,
               density: Callable[[np.ndarray], np.ndarray] | None = None,
               fixed: Sequence[np.ndarray] = ()) -> np.ndarray:
    """n well-spread points inside a polygon (farthest-point sampling over a random pool, the
    border counting as a neighbour at twice its distance, spacing shrinking where `density`
    is high); the `fixed` points, if any, come first."""
    pool = _uniform_points(poly, max(40 * n, 200), rng)
    weight = np.sqrt(density(pool)) if density is not None else np.ones(len(pool))
    weight *= rng.uniform(0.9, 1.0, len(pool))  # a little irregularity
    gap = 2.0 * shapely.distance(poly.exterior, shapely.points(pool))
    chosen = [np.asarray(p, dtype=float) for p in fixed][:n]
    for p in chosen:
        gap = np.minimum(gap, np.hypot(*(pool - p).T))
    while len(chosen) < n:
        k = int(np.argmax(gap * weight))
        chosen.append(pool[k])
        gap = np.minimum(gap, np.hypot(*(pool - pool[k]).T))
    return np.array(chosen)


def _voronoi(points: np.ndarray, extent: BaseGeometry) -> np.ndarray:
    """Voronoi cells of the points, in the points' order, covering at least the extent."""
    if len(points) == 1:
        return np.array([shapely.box(*extent.bounds).buffer(1.0)])
    cells = shapely.voronoi_polygons(MultiPoint(points), extend_to=extent, ordered=True)
    return shapely.get_parts(cells)


def split_polygon(poly: Polygon, seeds: np.ndarray, min_share: float = 0.2) -> list[Polygon]:
    """Voronoi cells of the seeds clipped to the polygon, fragments and slivers (below
    `min_share` of the mean) merged into neighbours; ordered like the surviving seeds."""
    if len(seeds) == 1:
        return [poly]
    cells = shapely.intersection(_voronoi(seeds, poly), poly, grid_size=SNAP_M)
    tidy = tidy_partition(list(cells), min_area=min_share * poly.area / len(seeds))
    return [g for g in tidy if g is not None]


def allocate(total: int, weights: Sequence[float], minimum: int = 1) -> list[int]:
    """Split `total` in proportion to the weights, each at least `minimum` (largest
    remainders, ties to the earlier one)."""
    w = np.asarray(weights, dtype=float)
    free = total - minimum * len(w)
    raw = w / w.sum() * free
    base = np.floor(raw).astype(int)
    left = free - int(base.sum())
    order = sorted(range(len(w)), key=lambda i: (-(raw[i] - base[i]), i))
    for i in order[:left]:
        base[i] += 1
    return [int(b) + minimum for b in base]


def mean_density(poly: Polygon, rng: np.random.Generator) -> float:
    return float(city_density(_uniform_points(poly, 400, rng)).mean())
