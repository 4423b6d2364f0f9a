"""The grid importer: GeoJSON, GeoPackage and Shapefile files in any CRS become a new grid
version of areas and cells; problems are reported together and refusals write nothing."""

from __future__ import annotations

import os
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
from pyproj import Geod
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.core.errors import InvalidInput
from grid.coords import gcj02_to_wgs84
from grid.importer import GridFileError, ImportOptions, ImportReport, import_grid, read_grid
from grid.models import Area, GridVersion

from ..conftest import START

# A district split into 2 streets (west, east), 4 communities (quadrants) and 4 × 4 cells of
# 0.01°, around Changyuan.
LON0, LAT0, STEP = 114.66, 35.18, 0.01
GEOD = Geod(ellps="WGS84")
PLURAL = {"district": "districts", "street": "streets", "community": "communities",
          "cell": "cells"}


def cell_box(row: int, col: int) -> shapely.Polygon:
    return shapely.box(LON0 + col * STEP, LAT0 + row * STEP,
                       LON0 + (col + 1) * STEP, LAT0 + (row + 1) * STEP)


def geodesic_m2(geom: shapely.Geometry) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0])


def grid_rows() -> list[dict[str, Any]]:
    """The synthetic grid as rows: code, name, level, parent, geometry (WGS-84)."""
    rows: list[dict[str, Any]] = [
        {"code": "D1", "name": "长垣示范区", "level": "district", "parent": None,
         "geometry": shapely.box(LON0, LAT0, LON0 + 4 * STEP, LAT0 + 4 * STEP)}]
    for s, west in (("S1", 0), ("S2", 2)):
        rows.append({"code": s, "name": f"街道{s}", "level": "street", "parent": "D1",
                     "geometry": shapely.box(LON0 + west * STEP, LAT0,
                                             LON0 + (west + 2) * STEP, LAT0 + 4 * STEP)})
    for c, (col, row, street) in {"C1": (0, 0, "S1"), "C2": (0, 2, "S1"),
                                  "C3": (2, 0, "S2"), "C4": (2, 2, "S2")}.items():
        rows.append({"code": c, "name": f"社区{c}", "level": "community", "parent": street,
                     "geometry": shapely.box(LON0 + col * STEP, LAT0 + row * STEP,
                                             LON0 + (col + 2) * STEP, LAT0 + (row + 2) * STEP)})
    for row in range(4):
        for col in range(4):
            community = {(0, 0): "C1", (1, 0): "C2", (0, 1): "C3", (1, 1): "C4"}[
                (row // 2, col // 2)]
            rows.append({"code": f"G{row}{col}", "name": f"网格{row}{col}", "level": "cell",
                         "parent": community, "geometry": cell_box(row, col)})
    return rows


EXPECTED = {r["code"]: (r["level"], r["parent"]) for r in grid_rows()}


def frame(rows: list[dict[str, Any]] | None = None, crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    rows = grid_rows() if rows is None else rows
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326").to_crs(crs)


def changed(**by_code: dict[str, Any]) -> list[dict[str, Any]]:
    """The grid with some features' fields replaced (a value of None for `drop` removes it)."""
    rows = []
    for row in grid_rows():
        change = by_code.get(row["code"], {})
        if change.get("drop"):
            continue
        rows.append({**row, **change})
    return rows


def write_geojson(tmp_path: Path, rows: list[dict[str, Any]] | None = None,
                  name: str = "grid.geojson") -> Path:
    path = tmp_path / name
    frame(rows).to_file(path, driver="GeoJSON")
    return path


def write_gpkg_layers(tmp_path: Path, crs: str = "EPSG:4326") -> Path:
    """One layer per level, no parent field: the importer infers the tree."""
    path = tmp_path / "grid.gpkg"
    whole = frame(crs=crs)
    for level, layer in PLURAL.items():
        whole[whole["level"] == level][["code", "name", "geometry"]].to_file(
            path, layer=layer, driver="GPKG")
    return path


def write_shapefile(tmp_path: Path, crs: str = "EPSG:4326", zipped: bool = False) -> Path:
    folder = tmp_path / "shp"
    folder.mkdir()
    path = folder / "grid.shp"
    frame(crs=crs).to_file(path)
    if not zipped:
        return path
    archive = tmp_path / "grid.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in folder.iterdir():
            z.write(part, f"export/{part.name}")  # in a sub-folder, as archivers often do
    return archive


def rows_written(session: Session) -> tuple[int, int]:
    return (session.scalar(select(func.count()).select_from(GridVersion)) or 0,
            session.scalar(select(func.count()).select_from(Area)) or 0)


def stored(session: Session, version_id: int) -> dict[str, Area]:
    return {a.code: a for a in session.scalars(
        select(Area).where(Area.grid_version == version_id))}


def run(session: Session, path: Path, options: ImportOptions | None = None,
        **kw: Any) -> ImportReport:
    report = import_grid(session, path, options or ImportOptions(), actor_id=None, now=START,
                         **kw)
    session.commit()
    return report


def refused(session: Session, path: Path, options: ImportOptions | None = None
            ) -> GridFileError:
    """Assert the import is refused as a file problem and that nothing was written."""
    session.commit()
    before = rows_written(session)
    with pytest.raises(GridFileError) as caught:
        import_grid(session, path, options or ImportOptions(), actor_id=None, now=START)
    assert not session.new and not session.dirty
    session.rollback()
    assert rows_written(session) == before
    assert caught.value.field == "file" and caught.value.problems
    return caught.value


def assert_cell_at(area: Area, row: int, col: int) -> None:
    expected = cell_box(row, col).bounds
    got = shapely.from_wkb(area.geometry).bounds
    assert got == pytest.approx(expected, abs=1e-6)


# ---------------------------------------------------------------- formats and CRS


@pytest.mark.parametrize("kind", ["geojson", "gpkg_layers", "shp", "shp_zip"])
def test_every_format_imports_the_same_hierarchy(session: Session, tmp_path: Path,
                                                 kind: str) -> None:
    path = {"geojson": lambda: write_geojson(tmp_path),
            "gpkg_layers": lambda: write_gpkg_layers(tmp_path),
            "shp": lambda: write_shapefile(tmp_path),
            "shp_zip": lambda: write_shapefile(tmp_path, zipped=True)}[kind]()

    report = run(session, path)

    assert report.counts == {"district": 1, "street": 2, "community": 4, "cell": 16}
    areas = stored(session, report.version_id)
    assert {c: (a.level, a.parent_code) for c, a in areas.items()} == EXPECTED
    assert areas["C3"].name == "社区C3"
    g12 = areas["G12"]
    assert_cell_at(g12, 1, 2)
    assert shapely.contains_xy(cell_box(1, 2), g12.point_lon, g12.point_lat)
    assert g12.area_m2 == pytest.approx(geodesic_m2(cell_box(1, 2)), rel=1e-4)
    version = session.get(GridVersion, report.version_id)
    assert version is not None and version.active
    assert (version.area_count, version.cell_count) == (23, 16)
    assert version.source_crs == "EPSG:4326"
    assert version.bbox == pytest.approx([LON0, LAT0, LON0 + 0.04, LAT0 + 0.04])
    assert version.report == report.to_dict()
    assert report.overlaps == () and report.gaps == () and report.repaired == ()


@pytest.mark.parametrize(("crs", "kind"), [("EPSG:4547", "gpkg"), ("EPSG:32650", "shp"),
                                           ("EPSG:4490", "gpkg")])
def test_files_in_other_crs_are_stored_in_wgs84(session: Session, tmp_path: Path, crs: str,
                                                kind: str) -> None:
    if kind == "gpkg":
        path = tmp_path / "grid.gpkg"
        frame(crs=crs).to_file(path, layer="grid", driver="GPKG")
    else:
        path = write_shapefile(tmp_path, crs=crs)
    first = frame(crs=crs).geometry.iloc[-1].exterior.coords[0]
    if crs != "EPSG:4490":
        assert abs(first[0]) > 1000  # really metres in the file

    report = run(session, path)

    areas = stored(session, report.version_id)
    assert_cell_at(areas["G00"], 0, 0)
    assert_cell_at(areas["G33"], 3, 3)
    assert session.get(GridVersion, report.version_id).source_crs == crs  # type: ignore[union-attr]
    assert report.overlaps == () and report.gaps == ()


def test_declared_gcj02_coordinates_are_converted_to_wgs84(session: Session,
                                                           tmp_path: Path) -> None:
    path = write_geojson(tmp_path)  # the same numbers, now meant as GCJ-02 (a web map's)

    report = run(session, path, ImportOptions(source_crs="GCJ02"))

    vertices = shapely.get_coordinates(
        shapely.from_wkb(stored(session, report.version_id)["G00"].geometry))
    lon, lat = gcj02_to_wgs84(LON0, LAT0)
    assert min(abs(x - lon) + abs(y - lat) for x, y in vertices) < 1e-7
    moved = GEOD.inv(LON0, LAT0, lon, lat)[2]
    assert 200 < moved < 1000
    assert session.get(GridVersion, report.version_id).source_crs == "GCJ02"  # type: ignore[union-attr]


def test_declared_crs_overrides_the_files_with_a_warning(session: Session,
                                                         tmp_path: Path) -> None:
    path = tmp_path / "grid.gpkg"
    frame(crs="EPSG:4547").set_crs("EPSG:3857", allow_override=True).to_file(
        path, layer="grid", driver="GPKG")

    report = run(session, path, ImportOptions(source_crs="EPSG:4547"))

    assert_cell_at(stored(session, report.version_id)["G21"], 2, 1)
    assert "图层“grid”：文件的坐标系 EPSG:3857 已按声明的 EPSG:4547 覆盖" in report.warnings


def test_an_unknown_declared_crs_is_refused(session: Session, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        import_grid(session, write_geojson(tmp_path), ImportOptions(source_crs="EPSG:999999"),
                    actor_id=None, now=START)
    assert caught.value.field == "source_crs"
    assert caught.value.message.startswith("source_crs: 无法识别的坐标系“EPSG:999999”")
    assert rows_written(session)[0] == 0


def test_one_layer_of_a_multi_layer_file_without_levels_is_all_cells(session: Session,
                                                                    tmp_path: Path) -> None:
    path = write_gpkg_layers(tmp_path)

    report = run(session, path, ImportOptions(layer="communities"))

    assert report.counts == {"district": 0, "street": 0, "community": 0, "cell": 4}
    assert {a.parent_code for a in stored(session, report.version_id).values()} == {None}


def test_cells_outside_every_community_are_kept_with_a_warning(session: Session,
                                                               tmp_path: Path) -> None:
    rows = grid_rows() + [{"code": "G99", "name": "飞地", "level": "cell", "parent": None,
                           "geometry": cell_box(0, 6)}]

    report = run(session, write_geojson(tmp_path, rows))

    assert stored(session, report.version_id)["G99"].parent_code is None
    assert "G99: 没有哪个社区（村）包含它，上级留空" in report.warnings
    assert any(w.startswith("网格有 ") and w.endswith(" 平方米超出区县范围")
               for w in report.warnings)


def test_custom_field_names_are_used(session: Session, tmp_path: Path) -> None:
    renamed = frame().rename(columns={"code": "WGBM", "name": "WGMC", "level": "JB",
                                      "parent": "SJBM"})
    renamed["JB"] = renamed["JB"].map({"district": "区县", "street": "街道",
                                       "community": "社区", "cell": "网格"})
    path = tmp_path / "grid.shp"
    renamed.to_file(path)
    options = ImportOptions(code_field="wgbm", name_field="wgmc", level_field="jb",
                            parent_field="sjbm")

    report = run(session, path, options)

    areas = stored(session, report.version_id)
    assert {c: (a.level, a.parent_code) for c, a in areas.items()} == EXPECTED


# ---------------------------------------------------------------- versions


def test_a_second_import_becomes_active_and_leaves_the_first_untouched(session: Session,
                                                                       tmp_path: Path) -> None:
    first = run(session, write_geojson(tmp_path))
    before = {c: (a.id, a.geometry, a.parent_code, a.area_m2)
              for c, a in stored(session, first.version_id).items()}
    rows = changed(G33={"drop": True}, G32={"name": "新网格"})

    second = run(session, write_geojson(tmp_path, rows, name="v2.geojson"))

    assert second.version_id != first.version_id
    session.expire_all()
    assert {c: (a.id, a.geometry, a.parent_code, a.area_m2)
            for c, a in stored(session, first.version_id).items()} == before
    assert stored(session, second.version_id)["G32"].name == "新网格"
    active = session.scalars(select(GridVersion.id).where(GridVersion.active.is_(True))).all()
    assert active == [second.version_id]


def test_an_import_without_activation_leaves_the_old_version_active(session: Session,
                                                                    tmp_path: Path) -> None:
    first = run(session, write_geojson(tmp_path))

    second = run(session, write_geojson(tmp_path, name="v2.geojson"),
                 ImportOptions(activate=False))

    active = session.scalars(select(GridVersion.id).where(GridVersion.active.is_(True))).all()
    assert active == [first.version_id]
    assert len(stored(session, second.version_id)) == 23


# ---------------------------------------------------------------- repairs, overlaps, gaps


def bow_tie(row: int, col: int) -> shapely.Polygon:
    x0, y0, x1, y1 = cell_box(row, col).bounds
    return shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])


def test_a_bow_tie_cell_is_repaired_and_reported(session: Session, tmp_path: Path) -> None:
    path = write_geojson(tmp_path, changed(G11={"geometry": bow_tie(1, 1)}))

    report = run(session, path)

    assert [r["code"] for r in report.repaired] == ["G11"]
    assert report.repaired[0]["problem"].startswith("自相交[")
    g11 = stored(session, report.version_id)["G11"]
    geom = shapely.from_wkb(g11.geometry)
    assert geom.is_valid and geom.geom_type == "MultiPolygon"
    # Two of the four triangles of the square remain; the other two are a gap.
    assert g11.area_m2 == pytest.approx(geodesic_m2(cell_box(1, 1)) / 2, rel=1e-3)
    assert report.gap_area_m2 == pytest.approx(geodesic_m2(cell_box(1, 1)) / 2, rel=1e-3)
    assert session.get(GridVersion, report.version_id).report["repaired"][0]["code"] == "G11"  # type: ignore[union-attr]


def test_a_cell_that_collapses_to_a_line_is_refused(session: Session, tmp_path: Path) -> None:
    x0, y0, x1, y1 = cell_box(1, 1).bounds
    spike = shapely.Polygon([(x0, y0), (x1, y0), (x1, y1), (x1, y0), (x0, y0)])
    path = write_geojson(tmp_path, changed(G11={"geometry": spike}))

    error = refused(session, path)

    assert error.problems[0].startswith("G11: 几何图形无效（")
    assert "无法修复" in error.message


def test_overlaps_and_gaps_are_reported_with_codes_and_areas(session: Session,
                                                             tmp_path: Path) -> None:
    # G00 reaches 0.002° into G01; G33 is missing.
    x0, y0, x1, y1 = cell_box(0, 0).bounds
    rows = changed(G00={"geometry": shapely.box(x0, y0, x1 + 0.002, y1)}, G33={"drop": True})

    report = run(session, write_geojson(tmp_path, rows))

    overlap = geodesic_m2(shapely.box(x1, y0, x1 + 0.002, y1))
    assert [(o["a"], o["b"]) for o in report.overlaps] == [("G00", "G01")]
    assert report.overlaps[0]["area_m2"] == pytest.approx(overlap, rel=0.01)
    assert report.overlap_count == 1
    hole = geodesic_m2(cell_box(3, 3))
    assert report.gap_count == 1
    assert report.gaps[0]["area_m2"] == pytest.approx(hole, rel=0.01)
    assert report.gap_area_m2 == pytest.approx(hole, rel=0.01)
    assert shapely.contains_xy(cell_box(3, 3), report.gaps[0]["lon"], report.gaps[0]["lat"])
    saved = session.get(GridVersion, report.version_id)
    assert saved is not None and saved.report["overlaps"][0]["b"] == "G01"


def test_holes_among_cells_are_gaps_when_there_are_only_cells(session: Session,
                                                              tmp_path: Path) -> None:
    rows = [r for r in changed(G12={"drop": True}) if r["level"] == "cell"]

    report = run(session, write_geojson(tmp_path, rows))

    assert report.counts["cell"] == 15
    assert report.gap_count == 1
    assert report.gaps[0]["area_m2"] == pytest.approx(geodesic_m2(cell_box(1, 2)), rel=0.01)


def test_an_island_of_cells_inside_a_hole_is_not_a_gap(session: Session,
                                                      tmp_path: Path) -> None:
    # Only the ring of cells around G11 is left, and G11 itself: the ring's hole minus G11.
    ring = [(r, c) for r in range(3) for c in range(3) if (r, c) != (1, 1)]
    rows = [{"code": f"G{r}{c}", "name": "", "level": "cell", "parent": None,
             "geometry": cell_box(r, c)} for r, c in ring]
    island = shapely.box(LON0 + 0.012, LAT0 + 0.012, LON0 + 0.018, LAT0 + 0.018)
    rows.append({"code": "G11", "name": "", "level": "cell", "parent": None,
                 "geometry": island})

    report = run(session, write_geojson(tmp_path, rows))

    expected = geodesic_m2(cell_box(1, 1)) - geodesic_m2(island)
    assert report.gap_count == 1
    assert report.gap_area_m2 == pytest.approx(expected, rel=0.01)
    assert stored(session, report.version_id)["G11"].name == "G11"  # blank name → the code


def test_a_cell_inside_another_counts_as_an_overlap(session: Session, tmp_path: Path) -> None:
    inner = shapely.box(LON0 + 0.002, LAT0 + 0.002, LON0 + 0.004, LAT0 + 0.004)
    rows = grid_rows() + [{"code": "G00b", "name": "重复", "level": "cell", "parent": None,
                           "geometry": inner}]

    report = run(session, write_geojson(tmp_path, rows))

    assert [(o["a"], o["b"]) for o in report.overlaps] == [("G00", "G00b")]
    assert report.overlaps[0]["area_m2"] == pytest.approx(geodesic_m2(inner), rel=0.01)


# ---------------------------------------------------------------- refusals


def _raw(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def _no_prj(tmp_path: Path) -> Path:
    path = write_shapefile(tmp_path, crs="EPSG:4547")
    path.with_suffix(".prj").unlink()
    return path


def _undefined_srs(tmp_path: Path) -> Path:
    path = tmp_path / "grid.gpkg"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyogrio warns that the CRS is missing: the point
        frame().set_crs(None, allow_override=True).to_file(path, layer="grid", driver="GPKG")
    return path


def _mis_declared(tmp_path: Path) -> Path:
    path = tmp_path / "grid.gpkg"
    frame(crs="EPSG:4547").set_crs("EPSG:4326", allow_override=True).to_file(
        path, layer="grid", driver="GPKG")
    return path


def _unnamed_layers(tmp_path: Path) -> Path:
    path = tmp_path / "grid.gpkg"
    frame().to_file(path, layer="a", driver="GPKG")
    frame().to_file(path, layer="b", driver="GPKG")
    return path


def _edited(**by_code: dict[str, Any]) -> Callable[[Path], Path]:
    return lambda tmp_path: write_geojson(tmp_path, changed(**by_code))


REFUSALS: dict[str, tuple[Callable[[Path], Path], ImportOptions, str]] = {
    "text file": (lambda p: _raw(p, "notes.txt", "网格清单\n".encode()), ImportOptions(),
                  "notes.txt 不是可读取的地理数据文件"),
    "random bytes": (lambda p: _raw(p, "grid.gpkg", os.urandom(4096)), ImportOptions(),
                     "grid.gpkg 不是可读取的地理数据文件"),
    "empty file": (lambda p: _raw(p, "grid.geojson", b""), ImportOptions(),
                   "grid.geojson 是空文件"),
    "missing file": (lambda p: p / "nowhere.gpkg", ImportOptions(), "找不到文件："),
    "bad zip": (lambda p: _raw(p, "grid.zip", b"PK not really"), ImportOptions(),
                "grid.zip 不是有效的 zip 压缩包"),
    "shapefile without .prj": (_no_prj, ImportOptions(), "图层“grid”没有坐标系；请用crs 参数"),
    "undefined SRS": (_undefined_srs, ImportOptions(), "没有坐标系；请用crs 参数（命令行 --crs）"),
    "projected CRS declared as 4326": (_mis_declared, ImportOptions(),
                                       "坐标看来是投影坐标系的米数"),
    "unknown layer": (write_gpkg_layers, ImportOptions(layer="wards"),
                      "grid.gpkg 中没有图层“wards”（现有图层："),
    "layers not named by level": (_unnamed_layers, ImportOptions(),
                                  "有多个图层（a、b），但没有一个以层级命名"),
    "point geometry": (_edited(G21={"geometry": shapely.Point(114.67, 35.2)}), ImportOptions(),
                       "G21: 几何类型为 Point，不是面（Polygon）"),
    "missing geometry": (_edited(G21={"geometry": None}), ImportOptions(),
                         "G21: 几何图形为空或缺失"),
    "no code field": (lambda p: write_geojson(p), ImportOptions(code_field="wgbm"),
                      "没有编码字段“wgbm”（现有字段：code、name、level、parent）"),
    "missing code": (_edited(G21={"code": None}), ImportOptions(),
                     "图层“grid”第 17 个要素: 缺少编码"),
    "duplicate code": (_edited(G21={"code": "G20"}), ImportOptions(),
                       "G20: 编码重复（2 个要素）"),
    "unknown level": (_edited(G21={"level": "block"}), ImportOptions(),
                      "G21: 无法识别的层级“block”"),
    "unknown parent": (_edited(G21={"parent": "C9"}), ImportOptions(),
                       "G21: 上级“C9”不是文件中的社区（村）"),
    "parent of the wrong level": (_edited(G21={"parent": "S1"}), ImportOptions(),
                                  "G21: 上级“S1”不是文件中的社区（村）"),
    "long code": (_edited(G21={"code": "G" * 41}), ImportOptions(), "编码超过 40 个字符"),
    "long name": (_edited(G21={"name": "长" * 81}), ImportOptions(),
                  "G21: 名称超过 80 个字符"),
    "no cells": (lambda p: write_geojson(p, [r for r in grid_rows() if r["level"] != "cell"]),
                 ImportOptions(), "文件中没有网格（层级 cell）"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_bad_file_is_refused_naming_the_problem_and_nothing_is_written(
        session: Session, tmp_path: Path, case: str) -> None:
    make, options, expected = REFUSALS[case]
    path = make(tmp_path)

    error = refused(session, path, options)

    assert error.message.startswith(f"file: 网格文件未导入，共 {len(error.problems)} 个问题：")
    assert expected in error.message
    assert any(expected in p for p in error.problems)


def test_every_problem_is_reported_together(session: Session, tmp_path: Path) -> None:
    rows = changed(G01={"code": "G00"}, G02={"level": "block"}, G03={"parent": "C9"},
                   G10={"geometry": shapely.Point(114.67, 35.19)})
    path = write_geojson(tmp_path, rows)

    error = refused(session, path)

    assert len(error.problems) == 4
    assert error.message.startswith("file: 网格文件未导入，共 4 个问题：")
    for text in ("G00: 编码重复", "G02: 无法识别的层级", "G03: 上级“C9”", "G10: 几何类型为 Point"):
        assert text in error.message


def test_read_grid_validates_without_a_database(tmp_path: Path) -> None:
    data = read_grid(write_gpkg_layers(tmp_path, crs="EPSG:4547"))

    assert data.report.counts == {"district": 1, "street": 2, "community": 4, "cell": 16}
    assert data.source == "grid.gpkg" and data.source_crs == "EPSG:4547"
    assert {f.code: (f.level, f.parent) for f in data.features} == EXPECTED


def test_progress_is_reported_with_growing_counts(session: Session, tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []

    run(session, write_gpkg_layers(tmp_path), progress=lambda *a: calls.append(a))

    stages = list(dict.fromkeys(stage for stage, _, _ in calls))
    assert stages == ["read", "validate", "overlaps", "gaps", "write"]
    for stage in stages:
        done = [d for s, d, _ in calls if s == stage]
        totals = {t for s, _, t in calls if s == stage}
        assert done == sorted(done) and len(totals) == 1
        assert done[0] == 0 and done[-1] == totals.pop()
    assert ("read", 4, 4) in calls and ("write", 23, 23) in calls
