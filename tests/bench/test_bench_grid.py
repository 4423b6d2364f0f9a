"""Benchmark: the grid locator on a synthetic 50,000-cell grid, against PostgreSQL/PostGIS.

A jittered-lattice Voronoi grid of 250 × 200 cells (about 240 m × 225 m each, ~40 vertices per
cell after densifying the edges every 25 m) covers a 60 km × 45 km box around lon 114.68,
lat 35.20, grouped into ~10,000 communities, 20 streets and one district, and is written to a
GeoPackage. The bench then measures, in one run:

- the import (`grid.importer.import_grid`) into a scratch PostgreSQL database, `bench_grid`,
  created and dropped here (never the `test` database);
- `grid.locator.build_index` time, and the RSS of a fresh process (as the app's) before and
  after it builds the index, and after 20,000 lookups;
- 20,000 single `GridIndex.locate` calls (p50/p90/p99 µs, with the 50 m near-boundary check and
  without it), and `GridIndex.locate_many` on 1,000,000 points (points/s, median of 5 runs);
- the same single lookups done by PostGIS (`ST_Contains` over a GiST index, one connection,
  server-side prepared statement), or by geopandas `sjoin` per point when PostGIS is not
  available, with the ratio peer p50 / locator p50.

Speed is reported, not asserted; what is asserted is that the locator, its bulk path and the
peer(s) put every sampled point in the same cell. The report is printed and written to
`tests/bench/results/grid.json`. Run with `make bench`.

The admin URL defaults to postgresql://postgres@127.0.0.1:5432/postgres
(HOTLINE_BENCH_DATABASE_ADMIN_URL overrides it). PostGIS is used when the server offers the
extension; with HOTLINE_BENCH_INSTALL_POSTGIS=1, running as root, the bench first tries
`apt-get install -y postgresql-<major>-postgis-3` (Debian's package) when it does not.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import psycopg
import pyogrio
import pytest
import shapely
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

import dispatch.core.models  # noqa: F401  (tables the grid tables refer to)
from grid.importer import ImportOptions, import_grid
from grid.locator import NEAR_BOUNDARY, build_index
from grid.models import CELL, Area
from tests.bench.conftest import scratch_database

DB_NAME = "bench_grid"
RESULTS = Path(__file__).parent / "results"

# The synthetic grid: a box of W × H metres centred on (LON0, LAT0).
LON0, LAT0 = 114.68, 35.20
WIDTH_M, HEIGHT_M = 60_000.0, 45_000.0
CELLS_X, CELLS_Y = 250, 200  # 50,000 cells
COMMUNITIES_X, COMMUNITIES_Y = 100, 100  # ~10,000 communities
STREETS_X, STREETS_Y = 5, 4  # 20 streets
EDGE_STEP_M = 25.0  # densify cell edges: real cell outlines follow roads, not straight lines
SEED = 20261123

SINGLE_N = 20_000
WARMUP_N = 5_000
BULK_N = 1_000_000
BULK_RUNS = 5
POSTGIS_N = 2_000
SJOIN_N = 200
TARGET_P50_US = 30.0
TARGET_BULK_PPS = 300_000.0


# ---------------------------------------------------------------------------------- helpers


# Run in a fresh interpreter: RSS before and after `build_index`, after handing freed heap back
# to the system (what the index itself holds; the rest is the row-reading high-water mark), and
# after 20,000 lookups (prepared geometries build their indexes lazily), in MB.
_MEMORY_PROBE = """
import gc, json, resource, sys, time
from pathlib import Path
import numpy as np
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
import dispatch.core.models, grid.models
from grid.locator import build_index

def rss():
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

engine = create_engine(sys.argv[1])
with engine.connect():
    pass
gc.collect()
before = rss()
t0 = time.perf_counter()
with Session(engine) as s:
    index = build_index(s, int(sys.argv[2]))
build_s = time.perf_counter() - t0
engine.dispose()
gc.collect()
after = rss()
try:  # glibc: hand freed heap back, leaving what the index holds
    import ctypes
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    live = rss()
except (OSError, AttributeError):
    live = None
rng = np.random.default_rng(7)
minx, miny, maxx, maxy = index.bbox
for lon, lat in zip(rng.uniform(minx, maxx, 20000), rng.uniform(miny, maxy, 20000)):
    index.locate(float(lon), float(lat))
print(json.dumps({"before": before, "after": after, "live": live, "warm": rss(),
                  "build_s": build_s}))
"""


def _pct(values_ns: list[int] | np.ndarray, q: float) -> float:
    """The q-th percentile of nanosecond timings, in µs."""
    return float(np.percentile(np.asarray(values_ns, dtype=float), q)) / 1000


def _metres_per_degree(lat: float) -> tuple[float, float]:
    """Metres per degree of longitude and of latitude on WGS-84 at a latitude."""
    phi = math.radians(lat)
    ky = 111132.92 - 559.82 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)
    kx = 111412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi)
    return kx, ky


def _jittered(nx: int, ny: int, rng: np.random.Generator, jitter: float) -> np.ndarray:
    """Points of an nx × ny lattice over the box, each moved by up to `jitter` of a step."""
    dx, dy = WIDTH_M / nx, HEIGHT_M / ny
    gx, gy = np.meshgrid((np.arange(nx) + 0.5) * dx, (np.arange(ny) + 0.5) * dy)
    x = gx.ravel() + rng.uniform(-jitter, jitter, nx * ny) * dx
    y = gy.ravel() + rng.uniform(-jitter, jitter, nx * ny) * dy
    return np.column_stack([x, y])


def _nearest(seeds: np.ndarray, points: np.ndarray) -> np.ndarray:
    """For each point, the position of the nearest seed."""
    tree = shapely.STRtree(shapely.points(seeds))
    which, nearest = tree.query_nearest(shapely.points(points), all_matches=False)
    out = np.empty(len(points), dtype=np.int64)
    out[which] = nearest
    return out


def _unions(cells: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """The coverage union of the cells of each label, and the cells' positions per label."""
    order = np.argsort(labels, kind="stable")
    used, starts = np.unique(labels[order], return_index=True)
    groups = np.split(order, starts[1:])
    return used, [shapely.coverage_union_all(cells[g]) for g in groups]


def make_grid(path: Path) -> dict[str, Any]:
    """Write the synthetic grid (district, streets, communities, cells) to a GeoPackage."""
    rng = np.random.default_rng(SEED)
    seeds = _jittered(CELLS_X, CELLS_Y, rng, 0.4)
    frame = shapely.box(0, 0, WIDTH_M, HEIGHT_M)
    diagram = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=frame, ordered=True)
    cells = shapely.clip_by_rect(shapely.get_parts(diagram), 0, 0, WIDTH_M, HEIGHT_M)
    # Densify, then snap to 1 cm so that neighbours share every vertex exactly.
    cells = shapely.set_precision(shapely.segmentize(cells, EDGE_STEP_M), 0.01)
    assert len(cells) == CELLS_X * CELLS_Y and shapely.is_valid(cells).all()

    community_seeds = _jittered(COMMUNITIES_X, COMMUNITIES_Y, rng, 0.3)
    street_seeds = _jittered(STREETS_X, STREETS_Y, rng, 0.2)
    cell_community = _nearest(community_seeds, seeds)
    community_ids, community_geoms = _unions(cells, cell_community)
    street_of_community = _nearest(street_seeds, community_seeds[community_ids])
    cell_street = street_of_community[np.searchsorted(community_ids, cell_community)]
    street_ids, street_geoms = _unions(cells, cell_street)
    district = shapely.coverage_union_all(cells)

    kx, ky = _metres_per_degree(LAT0)

    def to_degrees(xy: np.ndarray) -> np.ndarray:
        return np.column_stack([LON0 + (xy[:, 0] - WIDTH_M / 2) / kx,
                                LAT0 + (xy[:, 1] - HEIGHT_M / 2) / ky])

    codes = ["410728"]
    names = ["基准区"]
    levels = ["district"]
    parents: list[str | None] = [None]
    for s in street_ids:
        codes.append(f"410728{s + 1:03d}")
        names.append(f"基准街道{s + 1}")
        levels.append("street")
        parents.append("410728")
    community_code = {}
    for k, (c, s) in enumerate(zip(community_ids, street_of_community, strict=True)):
        community_code[c] = f"410728{s + 1:03d}{k + 1:05d}"
        codes.append(community_code[c])
        names.append(f"基准社区{k + 1}")
        levels.append("community")
        parents.append(f"410728{s + 1:03d}")
    for i, c in enumerate(cell_community):
        codes.append(f"{community_code[c]}{i + 1:05d}")  # 19 characters
        names.append(f"网格{i + 1}")
        levels.append("cell")
        parents.append(community_code[c])
    geometry = shapely.transform(
        np.array([district, *street_geoms, *community_geoms, *cells], dtype=object), to_degrees)
    frame_out = gpd.GeoDataFrame({"code": codes, "name": names, "level": levels,
                                  "parent": parents}, geometry=geometry, crs="EPSG:4326")
    # Cells stay Polygons (a street or community in pieces is a MultiPolygon).
    pyogrio.write_dataframe(frame_out, path, layer="grid", driver="GPKG",
                            geometry_type="Unknown", promote_to_multi=False)
    return {
        "cells": int(len(cells)), "communities": int(len(community_ids)),
        "streets": int(len(street_ids)),
        "vertices_per_cell": float(shapely.get_num_coordinates(cells).mean()),
        "cell_area_m2": float(WIDTH_M * HEIGHT_M / len(cells)),
        "bbox": [float(v) for v in shapely.total_bounds(geometry)],
    }


# ---------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def bench_db():
    """A scratch database with the project's schema; (SQLAlchemy URL, psycopg conninfo)."""
    with scratch_database(DB_NAME) as urls:
        yield urls


def _postgis(conninfo: str) -> tuple[bool, str]:
    """Whether PostGIS can be created in the scratch database, and how that was found."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        available = conn.execute("SELECT 1 FROM pg_available_extensions "
                                 "WHERE name = 'postgis'").fetchone() is not None
        major = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000
    note = "extension available on the server"
    if not available and os.environ.get("HOTLINE_BENCH_INSTALL_POSTGIS") == "1":
        package = f"postgresql-{major}-postgis-3"
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            return False, f"not available; {package} not installed (needs root and apt-get)"
        done = subprocess.run(["apt-get", "install", "-y", "-q", package],
                              env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                              capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            return False, f"apt-get install {package} failed: {done.stderr.strip()[-200:]}"
        note = f"installed {package} with apt-get"
        with psycopg.connect(conninfo, autocommit=True) as conn:
            available = conn.execute("SELECT 1 FROM pg_available_extensions "
                                     "WHERE name = 'postgis'").fetchone() is not None
    if not available:
        return False, "extension not available on the server"
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except psycopg.Error as exc:
        return False, f"CREATE EXTENSION postgis failed: {exc}"
    return True, note


def _run_postgis(conninfo: str, version: int, lons: np.ndarray,
                 lats: np.ndarray) -> tuple[list[int], list[str | None], dict[str, Any]]:
    """Time single ST_Contains lookups over a GiST index through one prepared statement."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        t0 = time.perf_counter()
        conn.execute("CREATE TABLE cells (code text PRIMARY KEY, geom geometry(Polygon, 4326))")
        conn.execute("INSERT INTO cells SELECT code, ST_SetSRID(ST_GeomFromWKB(geometry), 4326) "
                     "FROM grid_areas WHERE grid_version = %s AND level = 'cell'", (version,))
        conn.execute("CREATE INDEX cells_geom_gist ON cells USING GIST (geom)")
        conn.execute("ANALYZE cells")
        load_s = time.perf_counter() - t0
        sql = ("SELECT code FROM cells WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint(%s, %s), "
               "4326)) LIMIT 1")
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN " + sql.replace("%s", "114.68", 1).replace("%s", "35.2", 1)))
        cur = conn.cursor()
        for lon, lat in zip(lons[:200], lats[:200], strict=True):  # warm-up
            cur.execute(sql, (float(lon), float(lat)), prepare=True)
            cur.fetchone()
        timings, codes = [], []
        for lon, lat in zip(lons, lats, strict=True):
            x, y = float(lon), float(lat)
            t = time.perf_counter_ns()
            cur.execute(sql, (x, y), prepare=True)
            row = cur.fetchone()
            timings.append(time.perf_counter_ns() - t)
            codes.append(row[0] if row else None)
        floor = []  # the round trip alone, same connection, same way
        for _ in range(len(lons)):
            t = time.perf_counter_ns()
            cur.execute("SELECT %s::int", (1,), prepare=True)
            cur.fetchone()
            floor.append(time.perf_counter_ns() - t)
        postgis = conn.execute("SELECT postgis_lib_version()").fetchone()[0]
    return timings, codes, {"load_s": load_s, "uses_gist": "cells_geom_gist" in plan,
                            "postgis_version": postgis, "round_trip_p50_us": _pct(floor, 50)}


def _run_sjoin(cells: gpd.GeoDataFrame, lons: np.ndarray,
               lats: np.ndarray) -> tuple[list[int], list[str | None]]:
    """Time geopandas `sjoin` of a one-point frame against the cells, point by point."""
    cells.sindex  # noqa: B018  (built once, outside the timings)

    def one(lon: float, lat: float) -> str | None:
        point = gpd.GeoDataFrame(geometry=[shapely.Point(lon, lat)], crs=cells.crs)
        joined = gpd.sjoin(point, cells, how="inner", predicate="within")
        return str(joined["code"].iloc[0]) if len(joined) else None

    for lon, lat in zip(lons[:10], lats[:10], strict=True):  # warm-up
        one(float(lon), float(lat))
    timings, codes = [], []
    for lon, lat in zip(lons, lats, strict=True):
        x, y = float(lon), float(lat)
        t = time.perf_counter_ns()
        codes.append(one(x, y))
        timings.append(time.perf_counter_ns() - t)
    return timings, codes


# ---------------------------------------------------------------------------------- the bench


@pytest.mark.timeout(900)
def test_grid_locator_benchmark(bench_db, tmp_path):
    url, conninfo = bench_db
    rows: list[tuple[str, Any, str]] = []

    def row(label: str, value: Any, unit: str = "") -> None:
        if isinstance(value, float):
            value = round(value, 3 if abs(value) < 100 else 1)
        rows.append((label, value, unit))

    # 1. The grid file.
    path = tmp_path / "bench_grid.gpkg"
    t0 = time.perf_counter()
    grid = make_grid(path)
    row("grid: generate + write GeoPackage", time.perf_counter() - t0, "s")
    row("grid: cells", grid["cells"], "cells")
    row("grid: communities", grid["communities"], "areas")
    row("grid: streets", grid["streets"], "areas")
    row("grid: mean vertices per cell", grid["vertices_per_cell"], "vertices")
    row("grid: mean cell area", grid["cell_area_m2"], "m²")
    row("grid: file size", path.stat().st_size / 2**20, "MB")

    # 2. Import, then the index and its memory.
    engine = create_engine(url)
    t0 = time.perf_counter()
    with Session(engine) as s:
        report = import_grid(s, path, ImportOptions(), actor_id=None,
                             now=datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
        s.commit()
    import_s = time.perf_counter() - t0
    assert report.counts == {"district": 1, "street": grid["streets"],
                             "community": grid["communities"], "cell": grid["cells"]}
    assert report.overlap_count == 0 and report.gap_count == 0, report.to_dict()
    assert not report.repaired, report.repaired
    version = report.version_id
    row("import_grid (read, validate, write, commit)", import_s, "s")
    row("import_grid rate", grid["cells"] / import_s, "cells/s")

    t0 = time.perf_counter()
    with Session(engine) as s:
        index = build_index(s, version)
        cell_rows = s.execute(select(Area.code, Area.geometry).where(
            Area.grid_version == version, Area.level == CELL)).all()
    build_s = time.perf_counter() - t0
    engine.dispose()
    assert len(index.cell_codes) == grid["cells"]
    row("build_index (read rows + build)", build_s, "s")
    # Memory in a fresh process, as the app's: in this one the index would reuse heap pages
    # the generator and the importer freed, and its increment would read low.
    probe = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, url.render_as_string(hide_password=False),
         str(version)], cwd=Path(__file__).parents[2], capture_output=True, text=True,
        timeout=300, check=False)
    assert probe.returncode == 0, f"memory probe failed:\n{probe.stderr}"
    memory = json.loads(probe.stdout)
    row("fresh process: RSS before build_index (imports done)", memory["before"], "MB")
    row("fresh process: build_index", memory["build_s"], "s")
    row("fresh process: RSS after build_index", memory["after"], "MB")
    row("fresh process: RSS increment of the index", memory["after"] - memory["before"], "MB")
    if memory["live"] is not None:
        row("fresh process: increment after malloc_trim (live index)",
            memory["live"] - memory["before"], "MB")
    row("fresh process: RSS after 20,000 lookups", memory["warm"], "MB")

    # 3. Single lookups, as a request makes them.
    rng = np.random.default_rng(SEED + 1)
    minx, miny, maxx, maxy = index.bbox
    lons = rng.uniform(minx, maxx, SINGLE_N + WARMUP_N)
    lats = rng.uniform(miny, maxy, SINGLE_N + WARMUP_N)
    for lon, lat in zip(lons[SINGLE_N:], lats[SINGLE_N:], strict=True):
        index.locate(float(lon), float(lat))
    lons, lats = lons[:SINGLE_N], lats[:SINGLE_N]
    pairs = [(float(a), float(b)) for a, b in zip(lons, lats, strict=True)]
    timings, hits = [], []
    locate = index.locate
    clock = time.perf_counter_ns
    for lon, lat in pairs:
        t = clock()
        hit = locate(lon, lat)
        timings.append(clock() - t)
        hits.append(hit)
    plain = []
    for lon, lat in pairs:
        t = clock()
        locate(lon, lat, boundary_m=0)
        plain.append(clock() - t)
    locator_p50 = _pct(timings, 50)
    row("locate p50 (boundary 50 m)", locator_p50, "µs")
    row("locate p90 (boundary 50 m)", _pct(timings, 90), "µs")
    row("locate p99 (boundary 50 m)", _pct(timings, 99), "µs")
    row("locate p50 (boundary_m=0)", _pct(plain, 50), "µs")
    row("locate p99 (boundary_m=0)", _pct(plain, 99), "µs")
    row("locate: points flagged near_boundary",
        100 * sum(NEAR_BOUNDARY in h.flags for h in hits) / len(hits), "%")
    codes = [h.cell for h in hits]
    assert all(codes), "a point inside the grid's box fell in no cell"

    # 4. Bulk.
    blons = rng.uniform(minx, maxx, BULK_N)
    blats = rng.uniform(miny, maxy, BULK_N)
    index.locate_many(blons[:10_000], blats[:10_000])
    rates = []
    for _ in range(BULK_RUNS):
        t0 = time.perf_counter()
        positions = index.locate_many(blons, blats)
        rates.append(BULK_N / (time.perf_counter() - t0))
    assert (positions >= 0).mean() > 0.999
    many = index.locate_many(lons, lats)
    assert [index.cell_codes[p] for p in many] == codes, "locate_many disagrees with locate"
    row(f"locate_many on {BULK_N:,} points (median of {BULK_RUNS})",
        statistics.median(rates), "points/s")
    row("locate_many slowest run", min(rates), "points/s")

    # 5. The peer: PostGIS, else geopandas sjoin.
    has_postgis, postgis_note = _postgis(conninfo)
    peer: dict[str, Any] = {"postgis": postgis_note}
    cells_frame = gpd.GeoDataFrame(
        {"code": [r.code for r in cell_rows]},
        geometry=shapely.from_wkb([r.geometry for r in cell_rows]), crs="EPSG:4326")
    if has_postgis:
        pg_t, pg_codes, info = _run_postgis(conninfo, version, lons[:POSTGIS_N],
                                            lats[:POSTGIS_N])
        assert pg_codes == codes[:POSTGIS_N], "PostGIS and the locator disagree"
        peer.update(info, name="postgis", n=POSTGIS_N)
        peer_p50 = _pct(pg_t, 50)
        row(f"PostGIS {info['postgis_version']} ST_Contains p50 ({POSTGIS_N:,} lookups)",
            peer_p50, "µs")
        row("PostGIS ST_Contains p99", _pct(pg_t, 99), "µs")
        row("PostgreSQL round trip alone (prepared SELECT 1) p50", info["round_trip_p50_us"],
            "µs")
        row("PostGIS load cells + GiST + ANALYZE", info["load_s"], "s")
        row("PostGIS plan uses the GiST index", "yes" if info["uses_gist"] else "NO", "")
    sj_t, sj_codes = _run_sjoin(cells_frame, lons[:SJOIN_N], lats[:SJOIN_N])
    assert sj_codes == codes[:SJOIN_N], "geopandas sjoin and the locator disagree"
    row(f"geopandas sjoin p50 ({SJOIN_N} lookups)", _pct(sj_t, 50), "µs")
    row("geopandas sjoin p99", _pct(sj_t, 99), "µs")
    if not has_postgis:
        peer.update(name="geopandas-sjoin", n=SJOIN_N)
        peer_p50 = _pct(sj_t, 50)
    row("peer", peer["name"], f"({postgis_note})")
    row("ratio peer p50 / locate p50", peer_p50 / locator_p50, "×")
    row("target: locate p50 ≤ 30 µs", "met" if locator_p50 <= TARGET_P50_US else "NOT met",
        f"({locator_p50:.1f} µs)")
    bulk = statistics.median(rates)
    row("target: bulk ≥ 300,000 points/s", "met" if bulk >= TARGET_BULK_PPS else "NOT met",
        f"({bulk:,.0f} points/s)")

    # 6. The report.
    width = max(len(r[0]) for r in rows)
    lines = [f"{label:<{width}}  {value!s:>12}  {unit}" for label, value, unit in rows]
    print("\ngrid locator benchmark\n" + "\n".join(lines))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "grid.json").write_text(json.dumps({
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "shapely": shapely.__version__,
                    "geos": ".".join(map(str, shapely.geos_version)),
                    "geopandas": gpd.__version__},
        "grid": grid, "peer": peer,
        "rows": [{"label": label, "value": value, "unit": unit} for label, value, unit in rows],
    }, indent=2, ensure_ascii=False) + "\n")
