"""The ports and the mapping file of a history import: the grid it locates in, and the old
system's headings, categories, departments, channels, states and types translated."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from dispatch.core.errors import InvalidInput
from dispatch.core.ports import DepartmentRef, Location, Routing
from dispatch.intake.history_import.vocabulary import CHANNELS, FIELD_NAMES, HEADINGS, STATES, TYPES


class HistoryGrid(Protocol):
    """What the import needs from the grid: bulk and single location, routing, departments."""

    def locate_points(self, lons: Sequence[float], lats: Sequence[float], crs: Sequence[str],
                      addresses: Sequence[str | None]) -> list[Location]:
        """The cells and areas of many points at once (an address is the fallback)."""
        ...

    def locate(self, lon: float | None, lat: float | None, crs: str,
               address: str | None) -> Location:
        """The cell and areas of one point or address."""
        ...

    def route(self, category: str | None, location: Location) -> Routing:
        """Lead department and co-handlers from the dispatch catalogue."""
        ...

    def departments(self) -> Iterable[DepartmentRef]:
        """Every department."""
        ...


@dataclass(frozen=True)
class HistoryMapping:
    """The mapping file: the old system's words → ours. Every key is optional:
    `columns` (old heading → field or Chinese heading), `categories` (old category → category
    code), `departments` (old department → department code), `channels`, `states`, `types`,
    `crs` (the coordinate system of the file's points, default WGS84)."""

    columns: Mapping[str, str] = field(default_factory=dict)
    categories: Mapping[str, str] = field(default_factory=dict)
    departments: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)
    states: Mapping[str, str] = field(default_factory=dict)
    types: Mapping[str, str] = field(default_factory=dict)
    crs: str = "WGS84"


MAPPING_KEYS = ("columns", "categories", "departments", "channels", "states", "types")


def parse_mapping(data: bytes | str | Mapping[str, Any] | None) -> HistoryMapping:
    """The mapping file (JSON) checked: an object of objects of text, known values only."""
    if data is None:
        return HistoryMapping()
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"映射文件不是有效的 JSON：{exc}", field="mapping") from exc
    if not isinstance(data, Mapping):
        raise InvalidInput("映射文件须为 JSON 对象", field="mapping")
    unknown = set(data) - {*MAPPING_KEYS, "crs"}
    if unknown:
        raise InvalidInput(f"映射文件有不认识的键：{'、'.join(sorted(unknown))}；可用的键："
                           f"{'、'.join((*MAPPING_KEYS, 'crs'))}", field="mapping")
    parts: dict[str, Any] = {}
    for key in MAPPING_KEYS:
        value = data.get(key, {})
        if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise InvalidInput(f"映射文件的“{key}”须为“旧值: 新值”的文本对象", field="mapping")
        parts[key] = {k.strip(): v.strip() for k, v in value.items()}
    for old, new in parts["columns"].items():
        if new not in HEADINGS and new not in FIELD_NAMES:
            raise InvalidInput(f"映射文件 columns：“{old}”对应的“{new}”不是可导入的列；可用的列："
                               f"{'、'.join(HEADINGS)}", field="mapping")
    for old, new in parts["states"].items():
        if new not in STATES:
            raise InvalidInput(f"映射文件 states：“{old}”对应的“{new}”不是可导入的状态；可用："
                               f"{'、'.join(sorted({*STATES.values()}))}", field="mapping")
    for key, known in (("channels", CHANNELS), ("types", TYPES)):
        for old, new in parts[key].items():
            if new not in known:
                raise InvalidInput(f"映射文件 {key}：“{old}”对应的“{new}”不认识",
                                   field="mapping")
    crs = data.get("crs", "WGS84")
    if crs not in ("WGS84", "GCJ02", "BD09", "CGCS2000"):
        raise InvalidInput("映射文件 crs 须为 WGS84、GCJ02、BD09 或 CGCS2000", field="mapping")
    return HistoryMapping(**parts, crs=crs)
