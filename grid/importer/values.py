"""What the grid importer takes and gives: its options, the features it reads, its report, the
refusal (`GridFileError`, naming every problem), and the constants of its checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shapely.geometry.base import BaseGeometry

from dispatch.core.errors import InvalidInput

Progress = Callable[[str, int, int], None]
XY = Callable[[Any, Any], tuple[Any, Any]]

SHOWN = 10  # problems spelled out in the refusal message
# The levels as the report names them (the codes stay English in the data).
LEVEL_NAMES = {"district": "区县", "street": "街道（乡镇）", "community": "社区（村）",
               "cell": "网格"}
# GEOS's reasons for an invalid polygon (`shapely.is_valid_reason`, "Self-intersection[x y]"),
# in Chinese; the location in brackets is kept.
GEOS_REASONS = {
    "Ring Self-intersection": "环自相交", "Self-intersection": "自相交",
    "Too few points": "点数过少", "Interior is disconnected": "内部不连通",
    "Hole lies outside shell": "内环（洞）在外环之外", "Nested holes": "内环（洞）相互嵌套",
    "Nested shells": "外环相互嵌套", "Duplicate Rings": "环重复",
    "Invalid Coordinate": "坐标无效", "Ring is not closed": "环未闭合",
}


def level_name(level: str) -> str:
    """A level as the report says it: 社区（村）."""
    return LEVEL_NAMES.get(level, level)


def geos_reason(reason: str) -> str:
    """GEOS's reason in Chinese ("Self-intersection[114.6 35.2]" → "自相交[114.6 35.2]")."""
    for english, chinese in GEOS_REASONS.items():
        if reason.startswith(english):
            return chinese + reason[len(english):]
    return reason


class GridFileError(InvalidInput):
    """The grid file was refused; `problems` lists every reason, naming features by code."""

    def __init__(self, problems: list[str]) -> None:
        shown = "；".join(problems[:SHOWN])
        more = f"；……另有 {len(problems) - SHOWN} 个问题" if len(problems) > SHOWN else ""
        super().__init__(f"file: 网格文件未导入，共 {len(problems)} 个问题：{shown}{more}",
                         field="file")
        self.problems = list(problems)


@dataclass(frozen=True)
class ImportOptions:
    """Where the importer finds codes, names, levels and parents, and how to treat the file."""

    code_field: str = "code"
    name_field: str = "name"
    level_field: str = "level"
    parent_field: str = "parent"
    layer: str | None = None  # one layer of a multi-layer file
    source_crs: str | None = None  # "EPSG:4547", or GCJ02 / BD09 web-map coordinates
    activate: bool = True  # make the new version the only active one


DEFAULT_OPTIONS = ImportOptions()


@dataclass(frozen=True)
class GridFeature:
    """One area or cell ready to store: WGS-84 geometry, a point inside it, its area."""

    code: str
    name: str
    level: str
    parent: str | None
    geometry: BaseGeometry
    lon: float
    lat: float
    area_m2: float


@dataclass(frozen=True)
class ImportReport:
    """What an import wrote, repaired and found (also stored in `GridVersion.report`)."""

    version_id: int | None  # None until written
    counts: dict[str, int]
    repaired: tuple[dict[str, str], ...]
    overlaps: tuple[dict[str, Any], ...]
    overlap_count: int
    gaps: tuple[dict[str, float], ...]
    gap_count: int
    gap_area_m2: float
    warnings: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready values."""
        return {"version_id": self.version_id, "counts": dict(self.counts),
                "repaired": [dict(r) for r in self.repaired],
                "overlaps": [dict(o) for o in self.overlaps], "overlap_count": self.overlap_count,
                "gaps": [dict(g) for g in self.gaps], "gap_count": self.gap_count,
                "gap_area_m2": self.gap_area_m2, "warnings": list(self.warnings)}


@dataclass(frozen=True)
class GridData:
    """A grid file read and validated, with its report; nothing written yet."""

    source: str  # the file's name
    source_crs: str
    features: tuple[GridFeature, ...]
    bbox: tuple[float, float, float, float]  # WGS-84 min lon, min lat, max lon, max lat
    report: ImportReport


def nothing(stage: str, done: int, total: int) -> None:
    return None
