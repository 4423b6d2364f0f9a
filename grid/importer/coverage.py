"""What a grid covers, measured in metres: each feature's area and a point inside it, the cells
that overlap, and the gaps the cells leave in the areas above them (`measure`), in a
cylindrical equal-area projection centred on the grid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer

from grid.importer.values import (
    GridData,
    GridFeature,
    ImportReport,
    Progress,
    level_name,
)
from grid.models import CELL, LEVELS

MIN_M2 = 1.0  # overlaps and gaps below this are rounding, not drawing
DEG2_M2_MAX = 111_700.0**2  # no square degree of lon × lat holds more square metres
LIST_CAP = 100  # overlaps, gaps and warnings kept in the report


def measure(path: Path, crs_labels: list[str], codes: list[str | None],
            names: list[str | None], levels: list[str | None], parents: list[str | None],
            geometry: np.ndarray, repaired: list[dict[str, str]], warns: list[str],
            tick: Progress) -> GridData:
    """Areas, points, overlaps between cells and gaps in the cover, in metres."""
    lon_min, lat_min, lon_max, lat_max = (float(v) for v in shapely.total_bounds(geometry))
    cea = CRS.from_proj4(f"+proj=cea +lat_ts={(lat_min + lat_max) / 2} "
                         f"+lon_0={(lon_min + lon_max) / 2} +datum=WGS84 +units=m +no_defs")
    to_m = Transformer.from_crs("EPSG:4326", cea, always_xy=True)
    areas = _square_metres(geometry, to_m)
    points = shapely.get_coordinates(shapely.point_on_surface(geometry))
    level_arr = np.array(levels, dtype=object)
    cells = np.flatnonzero(level_arr == CELL)
    overlaps, overlap_count = _overlaps(geometry[cells], [codes[i] for i in cells], to_m, tick)
    tops = [lv for lv in LEVELS[:-1] if lv in set(levels)]
    cover = geometry[level_arr == tops[0]] if tops else None
    gaps, gap_count, gap_area, outside = _gaps(geometry[cells], cover, to_m, tick)
    if outside > MIN_M2:
        warns.append(f"网格有 {outside:.0f} 平方米超出{level_name(tops[0])}范围")
    if len(warns) > LIST_CAP:
        warns[LIST_CAP:] = [f"……另有 {len(warns) - LIST_CAP} 条警告"]
    features = tuple(
        GridFeature(code=str(codes[i]), name=names[i] or str(codes[i]), level=str(levels[i]),
                    parent=parents[i], geometry=geometry[i], lon=float(points[i, 0]),
                    lat=float(points[i, 1]), area_m2=float(areas[i]))
        for i in range(len(geometry)))
    report = ImportReport(
        version_id=None, counts={lv: int((level_arr == lv).sum()) for lv in LEVELS},
        repaired=tuple(repaired), overlaps=tuple(overlaps), overlap_count=overlap_count,
        gaps=tuple(gaps), gap_count=gap_count, gap_area_m2=round(gap_area, 1),
        warnings=tuple(warns))
    return GridData(source=path.name, source_crs=", ".join(dict.fromkeys(crs_labels)),
                    features=features, bbox=(lon_min, lat_min, lon_max, lat_max), report=report)


def _square_metres(geoms: np.ndarray, to_m: Transformer) -> np.ndarray:
    """Areas in m² of WGS-84 shapes, through the grid's equal-area projection."""
    return shapely.area(shapely.transform(geoms, to_m.transform,  # type: ignore[arg-type]
                                          interleaved=False))


def _overlaps(cells: np.ndarray, codes: list[str | None], to_m: Transformer,
              tick: Progress) -> tuple[list[dict[str, Any]], int]:
    """Pairs of cells sharing more than MIN_M2, largest first (capped), and how many in all."""
    tree = shapely.STRtree(cells)
    bounds = shapely.bounds(cells)
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    n, step = len(cells), 5000
    tick("overlaps", 0, n)
    for start in range(0, n, step):
        # Prepared "intersects" is fast; the "overlaps" predicate (a full relate per candidate)
        # would be several times slower and would miss a cell lying inside another.
        a, b = tree.query(cells[start:start + step], predicate="intersects")
        a = a + start
        a, b = a[a < b], b[a < b]
        # Shared area cannot exceed the envelopes' common part: drop pairs where that is
        # under MIN_M2 (neighbours meeting along an edge, give or take rounding).
        width = np.minimum(bounds[a, 2], bounds[b, 2]) - np.maximum(bounds[a, 0], bounds[b, 0])
        height = np.minimum(bounds[a, 3], bounds[b, 3]) - np.maximum(bounds[a, 1], bounds[b, 1])
        big = np.clip(width, 0, None) * np.clip(height, 0, None) * DEG2_M2_MAX > MIN_M2
        a, b = a[big], b[big]
        inner = shapely.relate_pattern(cells[a], cells[b], "T********")  # interiors meet
        a, b = a[inner], b[inner]
        shared = _square_metres(shapely.intersection(cells[a], cells[b]), to_m)
        found.append((a, b, shared))
        tick("overlaps", min(start + step, n), n)
    a, b, shared = (np.concatenate(parts) for parts in zip(*found, strict=True)) if found \
        else (np.empty(0, int), np.empty(0, int), np.empty(0))
    keep = np.flatnonzero(shared > MIN_M2)
    keep = keep[np.argsort(-shared[keep], kind="stable")]
    return [{"a": codes[a[k]], "b": codes[b[k]], "area_m2": round(float(shared[k]), 1)}
            for k in keep[:LIST_CAP]], int(len(keep))


def _gaps(cells: np.ndarray, cover: np.ndarray | None, to_m: Transformer,
          tick: Progress) -> tuple[list[dict[str, float]], int, float, float]:
    """Pieces of the top areas no cell covers (or holes among the cells), largest first."""
    tick("gaps", 0, 1)
    union = shapely.union_all(cells)
    outside = 0.0
    if cover is not None and len(cover):
        whole = shapely.union_all(cover)
        gap = shapely.difference(whole, union)
        outside = float(_square_metres(np.array([shapely.difference(union, whole)]), to_m)[0])
    else:
        holes = [shapely.Polygon(ring) for part in shapely.get_parts(union)
                 for ring in shapely.get_rings(part)[1:]]
        # A hole may hold an island of cells: only what no cell covers is a gap.
        gap = shapely.difference(shapely.union_all(holes), union) if holes else shapely.Polygon()
    pieces = shapely.get_parts(gap)
    sizes = _square_metres(pieces, to_m) if len(pieces) else np.empty(0)
    keep = np.flatnonzero(sizes > MIN_M2)
    keep = keep[np.argsort(-sizes[keep], kind="stable")]
    tick("gaps", 1, 1)
    if not len(keep):
        return [], 0, 0.0, outside
    inside = shapely.get_coordinates(shapely.point_on_surface(pieces[keep[:LIST_CAP]]))
    gaps = [{"lon": round(float(x), 7), "lat": round(float(y), 7),
             "area_m2": round(float(sizes[k]), 1)}
            for (x, y), k in zip(inside, keep, strict=False)]
    return gaps, int(len(keep)), float(sizes[keep].sum()), outside
