"""The in-memory locator against brute force, its flags, bulk lookups and map features."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from dispatch.intake.repeats import distance_m
from grid.locator import (
    NEAR_BOUNDARY,
    NEAREST_CELL,
    OUTSIDE_GRID,
    AreaInfo,
    GridCache,
    GridIndex,
)

CENTRE = (114.68, 35.20)


def voronoi_grid(n_cells: int = 400, seed: int = 7) -> tuple[list[AreaInfo], list]:
    """Irregular cells (Voronoi of random seeds, clipped to a 0.2° × 0.15° box) under two
    streets split at the box's middle longitude."""
    rng = np.random.default_rng(seed)
    west, south, east, north = 114.58, 35.12, 114.78, 35.27
    frame = shapely.box(west, south, east, north)
    seeds = shapely.multipoints(np.column_stack([rng.uniform(west, east, n_cells),
                                                 rng.uniform(south, north, n_cells)]))
    cells = [shapely.intersection(c, frame)
             for c in shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=frame))]
    mid = (west + east) / 2
    streets = [shapely.box(west, south, mid, north), shapely.box(mid, south, east, north)]
    areas = [AreaInfo("d", "县", "district", None, 0, 0),
             AreaInfo("s0", "西街道", "street", "d", 0, 0),
             AreaInfo("s1", "东街道", "street", "d", 0, 0)]
    geoms = [frame, *streets]
    for i, cell in enumerate(cells):
        p = shapely.point_on_surface(cell)
        areas.append(AreaInfo(f"g{i:04d}", f"网格{i}", "cell",
                              "s0" if p.x < mid else "s1", p.x, p.y))
        geoms.append(cell)
    return areas, geoms


@pytest.fixture(scope="module")
def grid() -> tuple[GridIndex, list[AreaInfo], list]:
    areas, geoms = voronoi_grid()
    return GridIndex(1, areas, geoms), areas, geoms


def test_locate_agrees_with_brute_force_point_in_polygon_on_10000_random_points(grid):
    index, areas, geoms = grid
    cells = [(a.code, g) for a, g in zip(areas, geoms, strict=True) if a.level == "cell"]
    rng = np.random.default_rng(2026)
    lons = rng.uniform(114.56, 114.80, 10_000)  # a margin outside the grid too
    lats = rng.uniform(35.10, 35.29, 10_000)
    polys = np.array([g for _, g in cells])
    codes = [c for c, _ in cells]
    # Brute force: every cell against every point, in one call (cells × points); the first
    # cell holding a point is its expected cell.
    shapely.prepare(polys)
    holds = shapely.contains_xy(polys[:, None], lons[None, :], lats[None, :])
    held, first = holds.any(axis=0), holds.argmax(axis=0)
    agree = inside = 0
    for n, (lon, lat) in enumerate(zip(lons, lats, strict=True)):
        expected = codes[first[n]] if held[n] else None
        got = index.locate(lon, lat, nearest_max_m=0)
        agree += got.cell == expected
        inside += expected is not None
    assert agree == 10_000
    assert 5_000 < inside < 9_000  # the sample covered both the grid and its outside


def test_bulk_locate_gives_the_same_cells_as_single_lookups(grid):
    index, _, _ = grid
    rng = np.random.default_rng(5)
    lons, lats = rng.uniform(114.56, 114.80, 3000), rng.uniform(35.10, 35.29, 3000)
    bulk = index.locate_many(lons, lats)
    single = [index.locate(x, y, nearest_max_m=0).cell for x, y in zip(lons, lats, strict=True)]
    assert [index.cell_codes[i] if i >= 0 else None for i in bulk] == single
    assert (bulk == -1).sum() == sum(c is None for c in single) > 0


def test_a_cell_knows_its_street_and_district(grid):
    index, areas, _ = grid
    hit = index.locate(114.60, 35.20)
    assert hit.street == "s0" and hit.district == "d" and hit.community is None
    assert index.areas[hit.cell].parent == "s0"


def test_a_point_near_a_boundary_is_flagged_with_its_distance():
    cells = [shapely.box(114.60, 35.20, 114.61, 35.21), shapely.box(114.61, 35.20, 114.62, 35.21)]
    areas = [AreaInfo("a", "A", "cell", None, 0, 0), AreaInfo("b", "B", "cell", None, 0, 0)]
    index = GridIndex(1, areas, cells)
    metres_per_deg_lon = index.kx
    just_west = 114.61 - 30 / metres_per_deg_lon  # 30 m west of the shared edge
    hit = index.locate(just_west, 35.205, boundary_m=50)
    assert hit.cell == "a" and NEAR_BOUNDARY in hit.flags
    assert hit.boundary_m == pytest.approx(30, abs=0.5)
    far = index.locate(114.605, 35.205, boundary_m=50)  # ~450 m from every edge
    assert far.cell == "a" and far.flags == () and far.boundary_m is None


def test_outside_every_cell_takes_the_nearest_within_the_limit_or_nothing():
    index = GridIndex(1, [AreaInfo("a", "A", "cell", None, 0, 0)],
                      [shapely.box(114.60, 35.20, 114.61, 35.21)])
    east_300m = 114.61 + 300 / index.kx
    near = index.locate(east_300m, 35.205, nearest_max_m=1000)
    assert near.cell == "a" and near.flags == (NEAREST_CELL,)
    assert near.distance_m == pytest.approx(300, abs=1)
    assert distance_m(east_300m, 35.205, 114.61, 35.205) == pytest.approx(300, rel=0.005)
    too_far = index.locate(east_300m, 35.205, nearest_max_m=200)
    assert too_far.cell is None and too_far.flags == (OUTSIDE_GRID,)


def test_features_are_clipped_to_the_bbox_and_simplified_by_zoom(grid):
    index, _, _ = grid
    everything, cut = index.features("cell", None, 18)
    assert len(everything) == len(index.cell_codes) and not cut
    west_part, _ = index.features("cell", (114.58, 35.12, 114.62, 35.27), 18)
    assert 0 < len(west_part) < len(everything)
    assert all(f["properties"]["level"] == "cell" for f in west_part)

    def vertices(features: list[dict]) -> int:
        return sum(len(ring) for f in features for ring in f["geometry"]["coordinates"])

    # A circle-like street boundary loses vertices at low zoom, keeps them at high zoom.
    circle = shapely.Point(114.68, 35.20).buffer(0.05, quad_segs=64)
    round_index = GridIndex(2, [AreaInfo("s", "圆街道", "street", None, 0, 0)], [circle])
    coarse, _ = round_index.features("street", None, 8)
    fine, _ = round_index.features("street", None, 18)
    assert vertices(coarse) < vertices(fine) / 4
    limited, truncated = index.features("cell", None, 18, limit=10)
    assert len(limited) == 10 and truncated


def test_the_cache_builds_a_version_once_and_drops_old_versions():
    cache = GridCache(keep=2)
    built: list[int] = []

    def build(v: int):
        def make():
            built.append(v)
            return f"index {v}"
        return make

    assert cache.get("index", 1, build(1)) == "index 1"
    assert cache.get("index", 1, build(1)) == "index 1"
    cache.get("index", 2, build(2))
    cache.get("index", 3, build(3))
    cache.get("index", 1, build(1))  # evicted: built again
    assert built == [1, 2, 3, 1]
    cache.get("catalogue:a", 3, build(30))
    cache.get("catalogue:b", 3, build(31))  # a new revision replaces the old one
    cache.get("catalogue:a", 3, build(32))
    assert built[-3:] == [30, 31, 32]


def test_threads_sharing_one_index_get_the_same_answers_as_one_thread():
    from concurrent.futures import ThreadPoolExecutor

    areas, geoms = voronoi_grid(seed=11)
    index = GridIndex(3, areas, geoms)  # fresh: its prepared geometries are still cold
    rng = np.random.default_rng(9)
    points = list(zip(rng.uniform(114.56, 114.80, 4000), rng.uniform(35.10, 35.29, 4000),
                      strict=True))
    expected = GridIndex(4, areas, geoms)
    want = [expected.locate(x, y) for x, y in points]

    def work(chunk: int) -> list:
        part = points[chunk::8]
        if chunk % 2:
            xs, ys = np.array([p[0] for p in part]), np.array([p[1] for p in part])
            cells = index.locate_many(xs, ys)
            return [index.cell_codes[i] if i >= 0 else None for i in cells]
        return [index.locate(x, y) for x, y in part]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(8)))
    for chunk, got in enumerate(results):
        wanted = want[chunk::8]
        if chunk % 2:
            assert got == [w.cell if NEAREST_CELL not in w.flags else None for w in wanted]
        else:
            assert got == wanted
