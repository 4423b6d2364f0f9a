"""Reading a grid file (GeoJSON, GeoPackage, Shapefile or a .zip of one): its layers and
coordinate system, each feature's code, name, level and parent, checked, repaired where safe,
converted to WGS-84 and measured (`read_grid`); nothing is written."""

from __future__ import annotations

import logging
import warnings
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry.base import BaseGeometry

from dispatch.core.errors import InvalidInput
from grid.coords import to_wgs84
from grid.importer.coverage import measure
from grid.importer.values import (
    DEFAULT_OPTIONS,
    XY,
    GridData,
    GridFileError,
    ImportOptions,
    Progress,
    geos_reason,
    level_name,
    nothing,
)
from grid.models import CELL, LEVELS

log = logging.getLogger(__name__)

MAX_CODE, MAX_NAME = 40, 80
KEEP_SHARE = 0.5  # share of the rings' area a repair must keep
_WEB_CRS = ("GCJ02", "BD09")
_POLYGONAL = (3, 6)  # shapely type ids of Polygon and MultiPolygon
# Where the refusals tell the admin to declare a CRS or pick a layer (API parameter, CLI option).
_CRS_HINT = "crs 参数（命令行 --crs）"
_LAYER_HINT = "layer 参数（命令行 --layer）"
# Layer names and level values the importer understands, to a level of `LEVELS`.
_LEVEL_WORDS = {
    "district": "district", "districts": "district", "区": "district", "县": "district",
    "区县": "district", "street": "street", "streets": "street", "街道": "street",
    "乡镇": "street", "镇": "street", "乡": "street", "community": "community",
    "communities": "community", "社区": "community", "村": "community", "cell": "cell",
    "cells": "cell", "网格": "cell",
}


@dataclass(frozen=True)
class _Layer:
    name: str  # as the admin sees it
    path: str  # what GDAL opens
    layer: str | None
    level: str | None  # from the layer's name, in multi-layer files


def _text(value: Any) -> str | None:
    """A field value as stripped text; None for null, NaN and blanks."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # numeric codes read from a DBF come back as floats
    text = str(value).strip()
    return text or None


def _declared_crs(source_crs: str | None) -> str | CRS | None:
    """The CRS the admin declared: a web-map name, a pyproj CRS, or None."""
    if source_crs is None:
        return None
    key = source_crs.strip().upper().replace("-", "").replace("_", "")
    if key in _WEB_CRS:
        return key
    try:
        return CRS.from_user_input(source_crs.strip())
    except CRSError as exc:
        raise InvalidInput(f"source_crs: 无法识别的坐标系“{source_crs}”，请填写 EPSG 代码"
                           "（如 EPSG:4547）或 GCJ02、BD09", field="source_crs") from exc


def _crs_label(crs: CRS) -> str:
    authority = crs.to_authority()
    return ":".join(authority) if authority else (crs.name or "custom")[:80]


def _layers(path: Path, options: ImportOptions, warns: list[str],
            shown: str | None = None) -> list[_Layer]:
    """The layers to read, each with the level its name gives in a multi-layer file; the
    refusals name the file as `shown` (an upload's own name), else by its name."""
    if not path.is_file():
        raise GridFileError([f"找不到文件：{shown or path}"])
    name = shown or path.name
    if path.stat().st_size == 0:
        raise GridFileError([f"{name} 是空文件"])
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                members = [m for m in archive.namelist()
                           if m.lower().endswith(".shp") and not m.startswith("__MACOSX")]
        except zipfile.BadZipFile:
            raise GridFileError([f"{name} 不是有效的 zip 压缩包"]) from None
        if not members:
            raise GridFileError([f"{name} 中没有 Shapefile（.shp）"])
        found: list[tuple[str, str, str | None]] = [
            (Path(m).stem, f"/vsizip/{path.resolve()}/{m}", None) for m in members]
    else:
        try:
            listed = pyogrio.list_layers(str(path))
        except (RuntimeError, ValueError, OSError) as exc:  # pyogrio's errors are RuntimeErrors
            # GDAL's words (English, naming the server's copy of the file) go to the log.
            log.info("grid import: %s cannot be opened: %s", name, exc)
            raise GridFileError([f"{name} 不是可读取的地理数据文件"
                                 "（须为 GeoJSON、GeoPackage 或 Shapefile）"]) from None
        found = [(str(name), str(path), str(name)) for name, _ in listed]
    if not found:
        raise GridFileError([f"{name} 中没有图层"])
    if options.layer is not None:
        picked = [f for f in found if f[0].lower() == options.layer.lower()]
        if not picked:
            names = "、".join(f[0] for f in found)
            raise GridFileError([f"{name} 中没有图层“{options.layer}”（现有图层：{names}）"])
        return [_Layer(*picked[0], level=None)]
    if len(found) == 1:
        return [_Layer(*found[0], level=None)]
    chosen = []
    for name, where, layer in found:
        level = _LEVEL_WORDS.get(name.strip().lower())
        if level is None:
            warns.append(f"图层“{name}”已忽略：图层名不是层级名")
        else:
            chosen.append(_Layer(name, where, layer, level))
    if not chosen:
        names = "、".join(f[0] for f in found)
        raise GridFileError([f"{name} 有多个图层（{names}），但没有一个以层级命名"
                             "（districts、streets、communities、cells，或 区县、街道、社区、"
                             f"网格）；请重命名图层，或用{_LAYER_HINT}只导入其中一个"])
    return chosen


def _column(columns: list[str], wanted: str) -> str | None:
    """The column named `wanted`, ignoring case (Shapefile tools often upper-case names)."""
    return next((c for c in columns if c.lower() == wanted.lower()), None)


def _transform_for(layer: _Layer, file_crs: Any, declared: str | CRS | None,
                   problems: list[str], warns: list[str]) -> tuple[str, XY] | None:
    """How to bring this layer's coordinates to WGS-84, or None (problem noted) if unknown."""
    if isinstance(declared, str):
        web = declared
        if file_crs is not None and not CRS.from_user_input(file_crs).is_geographic:
            warns.append(f"图层“{layer.name}”：文件的投影坐标系已按声明的 {web} 覆盖")
        return web, lambda x, y: to_wgs84(x, y, web)
    crs = declared
    if crs is None:
        if file_crs is None:
            problems.append(f"图层“{layer.name}”没有坐标系；请用{_CRS_HINT}声明，如 "
                            "--crs EPSG:4547（高斯-克吕格投影，单位米）、--crs EPSG:4326"
                            "（经纬度）")
            return None
        crs = CRS.from_user_input(file_crs)
    elif file_crs is not None and not CRS.from_user_input(file_crs).equals(crs):
        warns.append(f"图层“{layer.name}”：文件的坐标系 "
                     f"{_crs_label(CRS.from_user_input(file_crs))} 已按声明的 "
                     f"{_crs_label(crs)} 覆盖")
    # CGCS2000 → WGS-84 is a null transformation in PROJ, as intended (centimetres apart).
    transformer = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    return _crs_label(crs), transformer.transform


def _polygonal(geom: BaseGeometry) -> BaseGeometry | None:
    """The polygonal part of a make_valid result, or None if it has none."""
    parts = shapely.get_parts(shapely.get_parts(geom))  # collection → (multi)polygons → polygons
    polygons = [p for p in parts if shapely.get_type_id(p) == 3 and not p.is_empty]
    if not polygons:
        return None
    return polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)


def read_grid(path: str | Path, options: ImportOptions = DEFAULT_OPTIONS,
              progress: Progress | None = None, *, shown: str | None = None) -> GridData:
    """Read and validate a grid file into WGS-84 features; raise GridFileError on any problem.

    `shown` is the file's name in the problems when `path` is a temporary copy (an upload)."""
    tick = progress or nothing
    path = Path(path)
    declared = _declared_crs(options.source_crs)
    problems: list[str] = []
    warns: list[str] = []
    layers = _layers(path, options, warns, shown)
    labels: list[str] = []
    codes: list[str | None] = []
    names: list[str | None] = []
    levels: list[str | None] = []
    parents: list[str | None] = []
    geoms: list[Any] = []
    crs_labels: list[str] = []
    tick("read", 0, len(layers))
    for k, layer in enumerate(layers):
        _read_layer(layer, options, declared, problems, warns, crs_labels,
                    (labels, codes, names, levels, parents, geoms))
        tick("read", k + 1, len(layers))
    if not labels and not problems:
        problems.append(f"{shown or path.name} 中没有要素")
    geometry = np.array(geoms, dtype=object)
    _check_features(labels, codes, names, levels, problems, tick)
    repaired = _repair(labels, geometry, problems)
    parents_out = _hierarchy(labels, codes, levels, parents, geometry, problems, warns)
    if problems:
        raise GridFileError(problems)
    return measure(path, crs_labels, codes, names, levels, parents_out, geometry, repaired,
                    warns, tick)


def _read_layer(layer: _Layer, options: ImportOptions, declared: str | CRS | None,
                problems: list[str], warns: list[str], crs_labels: list[str],
                out: tuple[list[Any], ...]) -> None:
    """Append one layer's features (geometry converted to WGS-84, None where unusable)."""
    labels, codes, names, levels, parents, geoms = out
    with warnings.catch_warnings(record=True) as caught:
        # GDAL's remarks about the file belong in the report, not on stderr.
        warnings.simplefilter("always")
        try:
            frame = pyogrio.read_dataframe(layer.path, layer=layer.layer)
        except (RuntimeError, ValueError, OSError) as exc:
            detail = str(exc).replace(layer.path, layer.name)  # not the server's path
            problems.append(f"图层“{layer.name}”无法读取：{detail}")
            return
    warns.extend(f"图层“{layer.name}”：{w.message}" for w in caught)
    if "geometry" not in frame.columns:
        problems.append(f"图层“{layer.name}”没有几何图形")
        return
    columns = [c for c in frame.columns if c != "geometry"]
    code_col = _column(columns, options.code_field)
    name_col = _column(columns, options.name_field)
    level_col = None if layer.level else _column(columns, options.level_field)
    parent_col = _column(columns, options.parent_field)
    n = len(frame)
    if code_col is None and n:
        problems.append(f"图层“{layer.name}”没有编码字段“{options.code_field}”"
                        f"（现有字段：{'、'.join(columns) or '无'}）")
        return
    if name_col is None and n:
        warns.append(f"图层“{layer.name}”没有名称字段“{options.name_field}”，以编码作为名称")

    def values(col: str | None) -> list[str | None]:
        return [_text(v) for v in frame[col].tolist()] if col else [None] * n

    layer_codes = values(code_col)
    default_level = layer.level or (None if level_col else CELL)
    raw = np.asarray(frame.geometry, dtype=object)
    kinds = shapely.get_type_id(raw)
    usable = np.isin(kinds, _POLYGONAL) & ~shapely.is_empty(raw)
    start = len(labels)
    for i in range(n):
        label = layer_codes[i] or f"图层“{layer.name}”第 {i + 1} 个要素"
        labels.append(label)
        if kinds[i] < 0 or (kinds[i] in _POLYGONAL and not usable[i]):
            problems.append(f"{label}: 几何图形为空或缺失")
        elif not usable[i]:
            problems.append(f"{label}: 几何类型为 {raw[i].geom_type}，不是面（Polygon）")
    codes.extend(layer_codes)
    names.extend(values(name_col))
    levels.extend(values(level_col) if level_col else [default_level] * n)
    parents.extend(values(parent_col))
    geoms.extend([None] * n)
    found = _transform_for(layer, frame.crs, declared, problems, warns)
    if found is None or not usable.any():
        return
    crs_labels.append(found[0])
    # also drops Z (the stubs know only the interleaved form of the transformation)
    converted = shapely.transform(raw[usable], found[1],  # type: ignore[arg-type]
                                  interleaved=False)
    bounds = shapely.bounds(converted)
    outside = ~np.isfinite(bounds).all(axis=1) | (bounds[:, 0] < -180) | (bounds[:, 2] > 180) \
        | (bounds[:, 1] < -90) | (bounds[:, 3] > 90)
    index = np.flatnonzero(usable)
    if outside.any():
        named = [labels[start + j] for j in index[outside][:5]]
        problems.append(f"图层“{layer.name}”：有 {int(outside.sum())} 个要素"
                        f"（{'、'.join(named)}{'……' if outside.sum() > 5 else ''}）按 "
                        f"{found[0]} 转换后超出经度 -180..180、纬度 -90..90；坐标看来是投影"
                        f"坐标系的米数，请用{_CRS_HINT}声明文件实际的坐标系（如 "
                        "--crs EPSG:4547）")
    for j, geom in zip(index[~outside], converted[~outside], strict=True):
        geoms[start + j] = geom


def _check_features(labels: list[str], codes: list[str | None], names: list[str | None],
                    levels: list[str | None], problems: list[str], tick: Progress) -> None:
    """Codes present, unique and short; names short; levels known (levels normalised in place)."""
    n = len(labels)
    uses = Counter(codes)
    tick("validate", 0, n)
    for i in range(n):
        code, label = codes[i], labels[i]
        if code is None:
            problems.append(f"{label}: 缺少编码")
        elif len(code) > MAX_CODE:
            problems.append(f"{label}: 编码超过 {MAX_CODE} 个字符")
        elif uses[code] > 1:
            problems.append(f"{label}: 编码重复（{uses[code]} 个要素）")
            uses[code] = 0  # one problem per code
        if len(names[i] or "") > MAX_NAME:
            problems.append(f"{label}: 名称超过 {MAX_NAME} 个字符")
        raw = levels[i]
        levels[i] = _LEVEL_WORDS.get(raw.lower()) if raw else None
        if levels[i] is None:
            problems.append(f"{label}: 无法识别的层级“{raw}”（应为以下之一："
                            f"{'、'.join(LEVELS)}，或 区县、街道、社区、网格）" if raw
                            else f"{label}: 缺少层级")
        if (i + 1) % 1000 == 0 or i + 1 == n:
            tick("validate", i + 1, n)


def _repair(labels: list[str], geometry: np.ndarray, problems: list[str]) -> list[dict[str, str]]:
    """Make invalid polygons valid where the repair keeps a sensible area (see module doc)."""
    present = np.array([g is not None for g in geometry], dtype=bool)
    invalid = np.zeros(len(geometry), dtype=bool)
    if present.any():
        invalid[present] = ~shapely.is_valid(geometry[present])
    repaired: list[dict[str, str]] = []
    for i in np.flatnonzero(invalid):
        original = geometry[i]
        reason = geos_reason(shapely.is_valid_reason(original))
        fixed = _polygonal(shapely.make_valid(original))
        if fixed is None or fixed.area <= 0 or fixed.area < KEEP_SHARE * original.area:
            kept = "没有留下任何面" if fixed is None else \
                f"只留下原面积的 {fixed.area / original.area:.0%}"
            problems.append(f"{labels[i]}: 几何图形无效（{reason}），无法修复（修复后{kept}）")
            continue
        geometry[i] = fixed
        repaired.append({"code": labels[i], "problem": reason})
    return repaired


def _hierarchy(labels: list[str], codes: list[str | None], levels: list[str | None],
               parents: list[str | None], geometry: np.ndarray, problems: list[str],
               warns: list[str]) -> list[str | None]:
    """Each feature's parent: the one it names, else the area above containing its point."""
    present = [lv for lv in LEVELS if lv in set(levels)]
    above = {lv: (present[k - 1] if k else None) for k, lv in enumerate(present)}
    level_of = {c: lv for c, lv in zip(codes, levels, strict=True) if c is not None}
    result: list[str | None] = [None] * len(labels)
    if CELL not in present and levels and all(levels):
        problems.append("文件中没有网格（层级 cell）")
    for i, (level, parent) in enumerate(zip(levels, parents, strict=True)):
        if level is None or parent is None:
            continue
        if level == LEVELS[0]:
            warns.append(f"{labels[i]}: 区县的上级“{parent}”已忽略")
        elif level_of.get(parent) != above[level]:
            wanted = above[level] or LEVELS[LEVELS.index(level) - 1]
            problems.append(f"{labels[i]}: 上级“{parent}”不是文件中的{level_name(wanted)}")
        else:
            result[i] = parent
    for level, upper in above.items():
        if upper is None:
            continue
        up = [j for j, lv in enumerate(levels) if lv == upper and geometry[j] is not None]
        todo = [i for i, lv in enumerate(levels) if lv == level and parents[i] is None
                and geometry[i] is not None]
        if not up or not todo:
            continue
        tree = shapely.STRtree(geometry[up])
        points = shapely.point_on_surface(geometry[todo])
        hit_in, hit_tree = tree.query(points, predicate="intersects")
        order = np.lexsort((hit_tree, hit_in))  # lowest tree index wins where areas overlap
        first: dict[int, int] = {}
        for a, b in zip(hit_in[order], hit_tree[order], strict=True):
            first.setdefault(int(a), int(b))
        for k, i in enumerate(todo):
            if k in first:
                result[i] = codes[up[first[k]]]
            else:
                warns.append(f"{labels[i]}: 没有哪个{level_name(upper)}包含它，上级留空")
    return result
