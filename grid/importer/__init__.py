"""Grid importer: areas and cells from GeoJSON, GeoPackage or Shapefile (.shp or a .zip of one),
validated, repaired where safe, converted to WGS-84 and written as a new grid version.

Decisions worth knowing:
- An invalid polygon is repaired with `shapely.make_valid`, keeping its polygonal part, when
  that part is non-empty and keeps at least half of the area the rings describe (GEOS's area of
  the invalid polygon: shoelace area of the shell minus its holes). A bow-tie's lobes cancel in
  that sum, so any non-empty repair passes; a polygon that collapses to lines or points (zero
  width) or loses most of its area (a multipolygon of one part drawn three times) is refused.
- Overlaps and gaps are found on the stored WGS-84 shapes (what the locator tests points
  against) and measured in a cylindrical equal-area projection (+proj=cea) centred on the grid.
  Equal-area gives exact square metres anywhere, with no UTM zone edge to cross; being linear
  in longitude and monotonic in latitude, it keeps a rounding sliver between vertices on one
  parallel or meridian a sliver (an azimuthal projection bends parallels, and measured such
  slivers at tens of m²).
- A feature's parent level is the nearest level above it present in the file (a file without
  communities hangs its cells under the streets); `area_count` counts every area, cells included.

The modules: `values` (options, features, report, refusal), `reading` (the file read and
checked), `coverage` (overlaps and gaps measured); here the import that writes a version.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import shapely
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dispatch.core.audit import record_change
from grid.importer.reading import read_grid
from grid.importer.values import (
    DEFAULT_OPTIONS,
    GridData,
    GridFeature,
    GridFileError,
    ImportOptions,
    ImportReport,
    Progress,
    nothing,
)
from grid.models import CELL, Area, GridVersion

BATCH = 1000  # areas per INSERT


def import_grid(session: Session, path: str | Path, options: ImportOptions = DEFAULT_OPTIONS,
                *, actor_id: int | None, now: datetime, progress: Progress | None = None,
                source_name: str | None = None) -> ImportReport:
    """Import a grid file as a new grid version (flushed, not committed); nothing on refusal.

    `source_name` names the file in the version's record when `path` is a temporary copy."""
    tick = progress or nothing
    data = read_grid(path, options, progress, shown=source_name)
    previous = session.scalar(select(GridVersion.id).where(GridVersion.active.is_(True)).limit(1))
    if options.activate:
        session.execute(update(GridVersion).where(GridVersion.active.is_(True))
                        .values(active=False))
    source = (source_name or data.source)[:200]
    version = GridVersion(source=source, source_crs=data.source_crs[:80],
                          imported_at=now, imported_by_id=actor_id, active=options.activate,
                          area_count=len(data.features), cell_count=data.report.counts[CELL],
                          bbox=[round(v, 7) for v in data.bbox], report={})
    session.add(version)
    session.flush()
    report = replace(data.report, version_id=version.id)
    version.report = report.to_dict()
    record_change(session, actor_id, "grid_version", version.id, "import", None, {
        "source": source, "cells": version.cell_count, "areas": version.area_count,
        "active": options.activate,
        "active_version_before": previous})
    wkb = shapely.to_wkb([f.geometry for f in data.features], output_dimension=2)
    # Same keys in every row, so each batch is one executemany statement.
    rows = [{"grid_version": version.id, "code": f.code, "name": f.name, "level": f.level,
             "parent_code": f.parent, "geometry": bytes(blob), "point_lon": f.lon,
             "point_lat": f.lat, "area_m2": round(f.area_m2, 2)}
            for f, blob in zip(data.features, wkb, strict=True)]
    tick("write", 0, len(rows))
    for start in range(0, len(rows), BATCH):
        session.execute(Area.__table__.insert(), rows[start:start + BATCH])
        tick("write", min(start + BATCH, len(rows)), len(rows))
    session.flush()
    return report


__all__ = ["GridData", "GridFeature", "GridFileError", "ImportOptions", "ImportReport",
           "import_grid", "read_grid"]
